# Shell helpers for lmd (bash 4 or later): source this file, then
#   lmd_call topk '{"text":"Hello","k":3}'
#   lmd_call complete '{"text":"Once upon a time","max_tokens":8,"stream":true}'
# lmd_call prints every line lmd sends for the request (streamed deltas, then the response) and returns
# 0 for a result, 1 for an error answer, 2 when lmd could not be reached. It needs socat or nc (OpenBSD's).

# The socket: $LMD_SOCKET, else $XDG_RUNTIME_DIR/lmd.sock, else /tmp/lmd-$UID/lmd.sock (lmd's own rule).
lmd_socket() {
    if [ -n "${LMD_SOCKET:-}" ]; then
        printf '%s\n' "$LMD_SOCKET"
    elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
        printf '%s\n' "$XDG_RUNTIME_DIR/lmd.sock"
    else
        printf '/tmp/lmd-%s/lmd.sock\n' "$(id -u)"
    fi
}

# lmd_request METHOD [PARAMS_JSON] [ID]: the request line (PARAMS_JSON is put in as it is).
lmd_request() {
    local method=$1 params=${2:-} id=${3:-1}
    printf '{"jsonrpc":"2.0","id":%s,"method":"%s"%s}\n' "$id" "$method" "${params:+,\"params\":$params}"
}

# lmd_send LINE: sends one request line and prints what comes back up to and including the response.
# A response is a line that starts {"jsonrpc":"2.0","id": (lmd writes those two members first);
# notifications start {"jsonrpc":"2.0","method":. The connection stays open until the response arrives,
# so the request is never cut short, however long it runs.
lmd_send() {
    local line=$1 sock reply status=2
    sock=$(lmd_socket)
    if [ ! -S "$sock" ]; then
        echo "lmd_send: no lmd socket at $sock (start lmd, or use lmctl, which starts it)" >&2
        return 2
    fi
    if command -v socat >/dev/null 2>&1; then
        coproc LMD_CONNECTION { exec socat - "UNIX-CONNECT:$sock"; }
    else
        coproc LMD_CONNECTION { exec nc -U "$sock"; }
    fi
    local pid=$LMD_CONNECTION_PID in=${LMD_CONNECTION[0]} out=${LMD_CONNECTION[1]}
    printf '%s\n' "$line" >&"$out"
    while IFS= read -r reply <&"$in"; do
        printf '%s\n' "$reply"
        case $reply in
            '{"jsonrpc":"2.0","id":'*'"error":{"code":'*) status=1; break ;;
            '{"jsonrpc":"2.0","id":'*) status=0; break ;;
        esac
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return $status
}

# lmd_call METHOD [PARAMS_JSON]: lmd_send of a request with id 1.
lmd_call() {
    lmd_send "$(lmd_request "$1" "${2:-}")"
}
