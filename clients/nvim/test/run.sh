#!/usr/bin/env bash
# Headless Neovim test of lmd.nvim: starts lmd on the tiny model on a temporary socket and runs
# test_lmd.lua in `nvim --headless -u NONE` with the plugin on the runtimepath.
#   clients/nvim/test/run.sh     LMD_BIN (default <repo>/.build/debug/lmd), LMD_MODEL (default the tiny model)
# Prints one line per test and "N passed, N failed"; exits non-zero on failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PLUGIN=$(cd "$HERE/.." && pwd)
REPO=$(cd "$PLUGIN/../.." && pwd)
export LMD_BIN=${LMD_BIN:-$REPO/.build/debug/lmd}
export LMD_MODEL=${LMD_MODEL:-$REPO/Tests/Fixtures/tiny-gpt2}

fatal() { echo "FAIL $1"; echo "0 passed, 1 failed"; exit 1; }
command -v nvim >/dev/null || fatal "nvim is not installed (apt-get install -y neovim)"
version=$(nvim --version | head -n 1 | sed -n 's/^NVIM v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<<"$version"
if [ -z "${major:-}" ] || [ "$major" -eq 0 ] && [ "$minor" -lt 7 ]; then
    fatal "Neovim 0.7 or later is needed, not $(nvim --version | head -n 1)"
fi
[ -x "$LMD_BIN" ] || fatal "no lmd at $LMD_BIN (swift build --product lmd, or set LMD_BIN)"

export LMD_TEST_DIR; LMD_TEST_DIR=$(mktemp -d /tmp/lmdnv-XXXXXX)
export LMD_TEST_SOCKET=$LMD_TEST_DIR/lmd.sock
# --max-batch 1: lmd computes one model request at a time, so that the test can hold requests in its queue
# (to see a superseded one answered -32800). An lmd without that option is run as it is, and the test
# leaves that check out.
export LMD_TEST_ONE_AT_A_TIME=1
"$LMD_BIN" --model "$LMD_MODEL" --socket "$LMD_TEST_SOCKET" --max-batch 1 2>"$LMD_TEST_DIR/lmd.log" &
LMD_PID=$!
sleep 0.3
if ! kill -0 "$LMD_PID" 2>/dev/null && grep -q -- "--max-batch" "$LMD_TEST_DIR/lmd.log"; then
    LMD_TEST_ONE_AT_A_TIME=0
    "$LMD_BIN" --model "$LMD_MODEL" --socket "$LMD_TEST_SOCKET" 2>"$LMD_TEST_DIR/lmd.log" &
    LMD_PID=$!
fi
cleanup() {
    kill "$LMD_PID" 2>/dev/null
    wait "$LMD_PID" 2>/dev/null
    # An lmd the plugin started (and the test failed to stop) is in its own session: stop it by its pid.
    if [ -f "$LMD_TEST_DIR/auto.pid" ]; then kill "$(cat "$LMD_TEST_DIR/auto.pid")" 2>/dev/null; fi
    rm -rf "$LMD_TEST_DIR"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    [ -S "$LMD_TEST_SOCKET" ] && break
    kill -0 "$LMD_PID" 2>/dev/null || { cat "$LMD_TEST_DIR/lmd.log"; fatal "lmd exited"; }
    sleep 0.1
done
[ -S "$LMD_TEST_SOCKET" ] || fatal "lmd did not listen on $LMD_TEST_SOCKET"

# -i NONE: no shada; XDG folders inside the scratch folder so that no user config or state is read.
XDG_CONFIG_HOME=$LMD_TEST_DIR/config XDG_DATA_HOME=$LMD_TEST_DIR/data XDG_STATE_HOME=$LMD_TEST_DIR/state \
XDG_CACHE_HOME=$LMD_TEST_DIR/cache \
    timeout 300 nvim --headless -u NONE -i NONE -n \
    --cmd "set runtimepath^=$PLUGIN" --cmd "runtime plugin/lmd.lua" \
    -c "lua local ok, err = pcall(dofile, '$HERE/test_lmd.lua') if not ok then io.stdout:write('FAIL loading the test: ' .. tostring(err) .. '\\n0 passed, 1 failed\\n') vim.cmd('cquit') end" \
    2>&1 </dev/null
status=$?
if [ $status -ne 0 ]; then
    echo "(nvim exited with status $status; lmd log: $(tail -n 3 "$LMD_TEST_DIR/lmd.log" | tr '\n' ' '))"
fi
exit $status
