#!/usr/bin/env bash
# Checks the shell examples against a real lmd on the tiny model, on a temporary socket.
#   clients/shell/test.sh      LMD_BIN (default <repo>/.build/debug/lmd), LMD_MODEL, LMCTL (default beside LMD_BIN)
# Prints "N passed, N failed"; exits 1 when something failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LMD_BIN=${LMD_BIN:-$REPO/.build/debug/lmd}
LMD_MODEL=${LMD_MODEL:-$REPO/Tests/Fixtures/tiny-gpt2}
LMCTL=${LMCTL:-$(dirname "$LMD_BIN")/lmctl}
. "$HERE/lmd.sh"

passed=0 failed=0
check() {   # check NAME COMMAND... : the command's status decides
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
contains() { case $1 in *"$2"*) return 0 ;; *) echo "     got: ${1:0:300}"; return 1 ;; esac; }

for tool in socat nc; do
    command -v $tool >/dev/null || { echo "FAIL $tool is not installed (apt-get install socat netcat-openbsd)"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$LMD_BIN" ] || { echo "FAIL no lmd at $LMD_BIN"; echo "0 passed, 1 failed"; exit 1; }

TMP=$(mktemp -d /tmp/lmdsh-XXXXXX)
export LMD_SOCKET=$TMP/lmd.sock SOCK=$TMP/lmd.sock
"$LMD_BIN" --model "$LMD_MODEL" --socket "$SOCK" 2>"$TMP/lmd.log" &
LMD_PID=$!
cleanup() { kill "$LMD_PID" 2>/dev/null; wait "$LMD_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 1 600); do [ -S "$SOCK" ] && break; sleep 0.1; done

out=$(echo '{"jsonrpc":"2.0","id":1,"method":"info"}' | socat -t 5 - UNIX-CONNECT:"$SOCK")
check "socat info" contains "$out" '"id":1,"result":{"model":"tiny-gpt2","vocab_size":50257'

out=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":"Hello world"}}' \
    '{"jsonrpc":"2.0","id":2,"method":"detokenize","params":{"ids":[15496,995]}}' | socat -t 5 - UNIX-CONNECT:"$SOCK")
check "socat two requests: tokenize" contains "$out" '"id":1,"result":{"ids":[15496,995]'
check "socat two requests: detokenize" contains "$out" '"id":2,"result":{"text":"Hello world"}'

start=$(date +%s%N)
out=$(echo '{"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":"This weekend I plan to","add_prefix_space":true}}' | nc -U -W 1 "$SOCK")
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "nc -U -W 1 tokenize" contains "$out" '"ids":[770,5041,314,1410,284]'
check "nc -U -W 1 returns at once (${elapsed_ms} ms)" test "$elapsed_ms" -lt 3000

out=$(echo '{"jsonrpc":"2.0","id":1,"method":"complete","params":{"text":"Once upon a time","max_tokens":5,"stream":true}}' | nc -U -w 5 "$SOCK")
check "nc -U -w 5 streamed: 5 deltas" test "$(grep -c '"method":"complete/delta"' <<<"$out")" -eq 5
check "nc -U -w 5 streamed: the response last" contains "$(tail -n 1 <<<"$out")" '"id":1,"result":{"ids":['

out=$(lmd_call complete '{"text":"Once upon a time","max_tokens":5,"stream":true}'); status=$?
check "lmd_call streamed: status 0" test $status -eq 0
check "lmd_call streamed: 6 lines" test "$(wc -l <<<"$out")" -eq 6
check "lmd_call streamed: same as nc" contains "$out" "$(tail -n 1 <<<"$(echo '{"jsonrpc":"2.0","id":1,"method":"complete","params":{"text":"Once upon a time","max_tokens":5}}' | nc -U -W 1 "$SOCK")")"

# A completion longer than socat's -t: lmd_call still gets it.
out=$(lmd_call complete '{"text":"Hello","max_tokens":100}'); status=$?
check "lmd_call long completion: status 0" test $status -eq 0
check "lmd_call long completion: finished" contains "$out" '"finish_reason":"length"'

out=$(lmd_call topk '{"text":"x","k":0}'); status=$?
check "lmd_call error: status 1" test $status -eq 1
check "lmd_call error: -32602" contains "$out" '"code":-32602'
out=$(LMD_SOCKET=$TMP/nobody.sock lmd_call info 2>&1); status=$?
check "lmd_call without lmd: status 2" test $status -eq 2

out=$(lmd_call suggest '{"text":"I wish I we","n":3}')
case $out in
    *'"code":-32601'*) echo "skip suggest: this lmd has no suggest method yet" ;;
    *) check "lmd_call suggest" contains "$out" '"result":{"suggestions":[{"insert":' ;;
esac

if [ -x "$LMCTL" ]; then
    out=$("$LMCTL" --socket "$SOCK" topk "This weekend I plan to" 5)
    check "lmctl topk: 5 lines" test "$(wc -l <<<"$out")" -eq 5
    out=$("$LMCTL" --socket "$SOCK" --json tokenize "Hello world")
    check "lmctl --json tokenize" contains "$out" '"ids":[15496,995]'
    out=$("$LMCTL" --socket "$SOCK" complete "Once upon a time" --max-tokens 5 --stream)
    check "lmctl complete --stream" contains "$out" "$("$LMCTL" --socket "$SOCK" --json complete "Once upon a time" --max-tokens 5 | sed 's/.*"text":"\([^"]*\)".*/\1/')"
else
    echo "skip lmctl: none at $LMCTL"
fi

out=$("$HERE/examples.sh" "$SOCK" 2>&1)
check "examples.sh runs" contains "$out" '"method":"complete/delta"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
