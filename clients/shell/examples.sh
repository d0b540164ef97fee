#!/usr/bin/env bash
# Runs the examples of README.md against a running lmd, printing each command and what it printed.
#   clients/shell/examples.sh [SOCKET]        (default: $LMD_SOCKET, else lmd's default socket)
# LMCTL: the lmctl to use (default: lmctl on PATH; its examples are left out when there is none).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lmd.sh"
if [ $# -ge 1 ]; then export LMD_SOCKET=$1; fi
SOCK=$(lmd_socket)
LMCTL=${LMCTL:-$(command -v lmctl || true)}

run() {
    printf '\n$ %s\n' "$1"
    bash -c "$1"
}
export SOCK

echo "# socat: send one line, print the reply (-t 5: wait up to 5 s after sending, then close)"
run 'echo '\''{"jsonrpc":"2.0","id":1,"method":"info"}'\'' | socat -t 5 - UNIX-CONNECT:"$SOCK"'
run 'echo '\''{"jsonrpc":"2.0","id":1,"method":"topk","params":{"text":"This weekend I plan to","k":5}}'\'' | socat -t 5 - UNIX-CONNECT:"$SOCK"'
run 'printf '\''%s\n'\'' '\''{"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":"Hello world"}}'\'' '\''{"jsonrpc":"2.0","id":2,"method":"detokenize","params":{"ids":[15496,995]}}'\'' | socat -t 5 - UNIX-CONNECT:"$SOCK"'

echo
echo "# nc -U (OpenBSD netcat): -W 1 quits after the first packet of the reply, -w 5 after 5 s of silence"
run 'echo '\''{"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":"This weekend I plan to","add_prefix_space":true}}'\'' | nc -U -W 1 "$SOCK"'
run 'echo '\''{"jsonrpc":"2.0","id":1,"method":"complete","params":{"text":"Once upon a time","max_tokens":5,"stream":true}}'\'' | nc -U -w 5 "$SOCK"'
run 'echo '\''{"jsonrpc":"2.0","id":1,"method":"suggest","params":{"text":"I wish I we","n":3}}'\'' | nc -U -W 1 "$SOCK"'

echo
echo "# lmd.sh: lmd_call keeps the connection open until the response, however long the request runs"
run '. "'"$HERE"'/lmd.sh"; lmd_call complete '\''{"text":"Once upon a time","max_tokens":5,"stream":true}'\'''
run '. "'"$HERE"'/lmd.sh"; lmd_call topk '\''{"text":"x","k":0}'\''; echo "status $?"'

if [ -n "$LMCTL" ]; then
    echo
    echo "# lmctl (starts lmd when nothing listens, given --model or \$LMD_MODEL)"
    run '"'"$LMCTL"'" --socket "$SOCK" tokenize "This weekend I plan to"'
    run '"'"$LMCTL"'" --socket "$SOCK" topk "This weekend I plan to" 5'
    run '"'"$LMCTL"'" --socket "$SOCK" complete "Once upon a time" --max-tokens 8 --stream'
    run '"'"$LMCTL"'" --socket "$SOCK" --json topk "Hello" 2'
    run '"'"$LMCTL"'" --socket "$SOCK" call suggest '\''{"text":"I wish I we","n":3}'\'''
fi
