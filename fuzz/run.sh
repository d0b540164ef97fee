#!/usr/bin/env bash
# Longer fuzzing runs (issue "Reliability and security", item 4). See fuzz/README.md.
#
#   fuzz/run.sh [SECONDS] [TARGET...]          libFuzzer + AddressSanitizer, SECONDS shared by the targets
#   fuzz/run.sh --xctest [SECONDS] [FILTER]    the seeded XCTest fuzz tests, each for its share of SECONDS
#
# TARGET: json (JSONValue.parse, serializer, RPCIncoming.decode), framer (LineFramer), tokenizer
# (GPT2Tokenizer); default all three. SECONDS defaults to 300. The libFuzzer harnesses (fuzz/harness/) are
# compiled with swiftc -sanitize=fuzzer,address directly on the library sources they need, outside SwiftPM,
# into .build-fuzz-lf/; corpora are kept there between runs, and crash inputs go to
# .build-fuzz-lf/artifacts/TARGET/. Exits 1 if a target crashed or failed an invariant.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# Swift's crash reporter would symbolicate for a long time at each crash and keep libFuzzer waiting.
export SWIFT_BACKTRACE=enable=no

if [ "${1:-}" = "--xctest" ]; then
    shift
    seconds=${1:-300}
    filter=${2:-Fuzz}
    tests=8  # FuzzJSONTests (3), FuzzTokenizerTests (2), FuzzLineFramerTests, FuzzDispatcherTests, FuzzTokenizeIdsTests
    per=$(( seconds / tests > 0 ? seconds / tests : 1 ))
    echo "fuzz/run.sh: XCTest fuzz tests matching '$filter', $per s each (LMD_FUZZ_SECONDS=$per)"
    swift build --build-tests --scratch-path .build-fuzz >/dev/null
    LMD_FUZZ_SECONDS=$per swift test --skip-build --scratch-path .build-fuzz --filter "$filter" 2>&1 \
        | grep -E "^fuzz |error:|Executed .* tests" | sort -u
    exit "${PIPESTATUS[0]}"
fi

seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json framer tokenizer)
per=$(( seconds / ${#targets[@]} > 0 ? seconds / ${#targets[@]} : 1 ))
out=.build-fuzz-lf
mkdir -p "$out"

sources_for() {
    case "$1" in
        json) echo fuzz/harness/JSONHarness.swift Sources/LMProtocol/*.swift Sources/LMProtocol/Methods/*.swift ;;
        framer) echo fuzz/harness/LineFramerHarness.swift Sources/LMServer/Transport/LineFramer.swift ;;
        tokenizer) echo fuzz/harness/TokenizerHarness.swift Sources/LMTokenizer/*.swift ;;
        *) echo "fuzz/run.sh: unknown target $1 (json, framer, tokenizer)" >&2; exit 2 ;;
    esac
}

# Seeds: the protocol transcripts' lines for json, the tokenizer fixture's texts for tokenizer.
seed_corpus() {
    local target=$1 dir=$2
    [ -z "$(ls -A "$dir" 2>/dev/null)" ] || return 0
    python3 - "$target" "$dir" <<'EOF'
import glob, json, os, sys
target, folder = sys.argv[1], sys.argv[2]
seeds = []
if target == "json":
    for path in sorted(glob.glob("protocol/examples/*.jsonl")):
        for line in open(path, encoding="utf-8"):
            entry = json.loads(line)
            if "send" in entry:
                seeds.append(json.dumps(entry["send"], ensure_ascii=False, separators=(",", ":")).encode())
            elif "send_raw" in entry:
                seeds.append(entry["send_raw"].encode("utf-8", "surrogatepass"))
elif target == "tokenizer":
    for line in open("Tests/Fixtures/tokenizer-cases.jsonl", encoding="utf-8"):
        seeds.append(json.loads(line)["text"].encode("utf-8", "surrogatepass"))
elif target == "framer":
    seeds = [b"\x08\x01\x02" + b"ab\ncd\n\nlonger line here\nx", b"\x00\x00\x01\n\n\n"]
for i, seed in enumerate(seeds):
    with open(os.path.join(folder, "seed-%04d" % i), "wb") as f:
        f.write(seed)
print("  %d seeds" % len(seeds))
EOF
}

status=0
summary=()
for target in "${targets[@]}"; do
    binary="$out/fuzz-$target"
    # shellcheck disable=SC2046
    srcs=$(sources_for "$target")
    echo "== $target: building $binary"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -swift-version 5 -O -g -module-name "Fuzz_$target" \
        $srcs -o "$binary" 2>&1 | grep -v -E "ld.gold: warning: Cannot export local symbol" || true
    [ -x "$binary" ] || { echo "fuzz/run.sh: build of $target failed" >&2; exit 1; }
    corpus="$out/corpus/$target"
    artifacts="$out/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    seed_corpus "$target" "$corpus"
    extra=()
    [ "$target" = json ] && extra+=("-dict=fuzz/json.dict")
    echo "== $target: fuzzing for $per s"
    log="$out/$target.log"
    set +e
    LMD_FUZZ_MODEL=Tests/Fixtures/tiny-gpt2 "$binary" "$corpus" -max_total_time="$per" -print_final_stats=1 \
        -max_len=4096 -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$artifacts/" "${extra[@]}" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
    speed=$(grep -E "^stat::average_exec_per_sec" "$log" | awk '{print $2}')
    cov=$(grep -E "^#[0-9]+.*(DONE|cov:)" "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*ft: ([0-9]+).*corp: ([0-9]+).*/cov \1, features \2, corpus \3/')
    if [ $rc -ne 0 ]; then
        status=1
        echo "!! $target FAILED (exit $rc); the end of its log ($log):"
        grep -E "Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY|Test unit written|Base64:" "$log" | head -20
        summary+=("$target: FAILED after ${runs:-?} runs — see $log and $artifacts/")
    else
        summary+=("$target: ${runs:-?} runs in $per s (${speed:-?}/s), $cov, no crash")
    fi
done
echo
echo "fuzz/run.sh summary ($seconds s):"
for line in "${summary[@]}"; do echo "  $line"; done
exit $status
