#!/usr/bin/env bash
# Tests of the clients against a real lmd on the tiny model: Python client, shell examples, Neovim plugin.
#   clients/run-tests.sh            (from anywhere; CI calls it from .ci/run)
# LMD_BIN: the daemon (default <repo>/.build/debug/lmd, built first when missing); LMD_MODEL: the model.
# Installs what is missing with apt-get (neovim, socat, netcat-openbsd). Prints a summary line per suite
# and "clients: N passed, N failed" last; exits 1 when anything failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export LMD_MODEL=${LMD_MODEL:-$REPO/Tests/Fixtures/tiny-gpt2}

if [ -z "${LMD_BIN:-}" ]; then
    LMD_BIN=$REPO/.build/debug/lmd
    if [ ! -x "$LMD_BIN" ] || [ ! -x "$REPO/.build/debug/lmctl" ]; then
        echo "== building lmd and lmctl"
        (cd "$REPO" && swift build --product lmd && swift build --product lmctl) || {
            echo "clients: 0 passed, 1 failed"; exit 1; }
    fi
fi
export LMD_BIN
export LMCTL=${LMCTL:-$(dirname "$LMD_BIN")/lmctl}

missing=()
command -v nvim >/dev/null || missing+=(neovim)
command -v socat >/dev/null || missing+=(socat)
command -v nc >/dev/null || missing+=(netcat-openbsd)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null ||
            echo "apt-get could not install ${missing[*]}"
    else
        echo "not root: install ${missing[*]} yourself"
    fi
fi

total_passed=0 total_failed=0 total_skipped=0 summaries=()
# run NAME COMMAND...: shows the suite's output and adds up its closing "N passed, N failed" line.
run() {
    local name=$1; shift
    echo "== $name"
    local log; log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    local line; line=$(grep -E '([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    local passed=0 failed=0 skipped=0
    if [ -n "$line" ]; then
        passed=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
        failed=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<<"$line")
        case $line in *skipped*) skipped=$(sed -E 's/.*\b([0-9]+) skipped.*/\1/' <<<"$line") ;; esac
    fi
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi   # it died before counting
    total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
    summaries+=("$name: $passed passed, $failed failed${skipped:+, $skipped skipped}")
}

run python python3 "$HERE/python/test_lmd_client.py"
run shell bash "$HERE/shell/test.sh"
run nvim bash "$HERE/nvim/test/run.sh"

echo
for s in "${summaries[@]}"; do echo "  $s"; done
echo "clients: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
