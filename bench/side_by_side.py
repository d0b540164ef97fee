"""Side-by-side table of several rounds of `lmbench --json` and `llama_server_bench.py --json` figures.

Each cell is the median over rounds, and in brackets the best round (lowest latency, highest rate): on a
shared machine the best round is the closest to what each program does undisturbed.
usage: python side_by_side.py --lmbench R1.json R2.json ... --llama L1.json L2.json ...
           [--transformers T1.json ...]
The ratio columns divide lmd's time (over its socket) by the other's for the same work.
"""
import argparse
import json
import statistics

ROWS = [
    ("load", "load"),
    ("topk_same_prompt", "topk, same short prompt"),
    ("topk_fresh_4_words", "topk, fresh 4-word prompt"),
    ("prefill_128", "prefill 128 tokens"),
    ("prefill_512", "prefill 512 tokens"),
    ("decode_32", "decode 32 tokens"),
    ("complete_32_total", "  whole 32-token completion"),
    ("decode_256", "decode 256 tokens"),
    ("complete_256_total", "  whole 256-token completion"),
    ("topk_fresh_450", "topk, fresh 450-token prompt"),
    ("typing_context", "typing: 450-token context"),
    ("typing_keystroke", "typing: +1 word, topk"),
    ("typing_keystroke_with_cache", "  (transformers, past_key_values kept)"),
    ("concurrent_topk", "8 clients, topk"),
    ("concurrent_complete_32", "8 clients, 32-token completions"),
    ("concurrent_complete_32_tokens", "  their generated tokens"),
    ("peak_rss", "peak RSS"),
]


def value(figure):
    """(number, unit, higher_is_better) of one figure."""
    if figure is None or "skipped" in figure:
        return None
    if "median_ms" in figure:
        return figure["median_ms"], "ms", False
    if "value" in figure:
        return figure["value"], figure["unit"].split(" ")[0], True
    if "seconds" in figure:
        return figure["seconds"] * 1000, "ms", False
    if "bytes" in figure and figure["bytes"]:
        return figure["bytes"] / 1048576, "MiB", False
    return None


def median_of(figures):
    """(median number, higher_is_better) over rounds, or None."""
    values = [v for v in map(value, figures) if v]
    if not values:
        return None
    return statistics.median(v[0] for v in values), values[0][2]


def ratio(ours, theirs):
    """lmd's time over llama-server's for the same work (a rate is turned into time first)."""
    a, b = median_of(ours), median_of(theirs)
    if not a or not b or not a[0] or not b[0]:
        return "–"
    return f"{(b[0] / a[0]) if a[1] else (a[0] / b[0]):.2f}"


def cell(figures):
    values = [v for v in map(value, figures) if v]
    if not values:
        return "–"
    numbers = [v[0] for v in values]
    unit, higher = values[0][1], values[0][2]
    best = max(numbers) if higher else min(numbers)
    fmt = (lambda x: f"{x:.0f}") if best >= 100 else (lambda x: f"{x:.1f}")
    return f"{fmt(statistics.median(numbers))} ({fmt(best)}) {unit}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lmbench", nargs="+", required=True)
    parser.add_argument("--llama", nargs="*", default=[])
    parser.add_argument("--transformers", nargs="*", default=[])
    args = parser.parse_args()
    ours = [json.load(open(p)) for p in args.lmbench]
    theirs = [json.load(open(p)) for p in args.llama]
    torch = [json.load(open(p)) for p in args.transformers]
    columns = [
        ("lmbench in process", [r.get("in_process") or {} for r in ours]),
        ("lmd (socket)", [r.get("lmd") or {} for r in ours]),
    ]
    others = []
    if theirs:
        columns.append(("llama-server (HTTP)", theirs))
        others.append(("lmd/llama", theirs))
    if torch:
        columns.append(("transformers+torch", torch))
        others.append(("lmd/torch", torch))
    print(f"{len(ours)} lmbench round(s), {len(theirs)} llama-server round(s), {len(torch)} transformers round(s): "
          "median over rounds (best round)")
    print("case".ljust(34) + "".join(name.ljust(26) for name, _ in columns) + "".join(n.ljust(11) for n, _ in others))
    for key, title in ROWS:
        line = title.ljust(34) + "".join(cell([r.get(key) for r in rounds]).ljust(26) for _, rounds in columns)
        if key != "peak_rss":
            line += "".join(ratio([r.get(key) for r in columns[1][1]], [r.get(key) for r in o]).ljust(11) for _, o in others)
        print(line)


if __name__ == "__main__":
    main()
