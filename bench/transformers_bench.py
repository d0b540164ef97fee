"""Time HF transformers + torch (the notebook's stack) on the cases lmbench measures, in process.

Loads the model folder lmbench wrote (config.json + model.safetensors) with GPT2LMHeadModel, float32,
torch.set_num_threads(THREADS), and replays lmbench's token ids (`lmbench --dump-prompts FILE`):

- topk: what the notebook's get_top_tokens does — model(ids).logits[0, -1], softmax, torch.topk(k=10),
  under torch.inference_mode(); each call runs the whole prompt (transformers keeps no cache between
  calls), so "same prompt again" costs what a fresh one does;
- typing: the notebook's way, the whole growing context each keystroke; and with past_key_values kept
  from the previous keystroke (the best transformers can do), reported apart;
- completion: model.generate(ids, max_new_tokens=N, do_sample=False, min_new_tokens=N), whole call.

Writes JSON in llama_server_bench.py's format (for side_by_side.py --other) and prints a table.
usage: python transformers_bench.py --model-dir DIR --prompts PROMPTS.json [--threads 2] [--json OUT.json]
"""
import argparse
import json
import os
import resource
import statistics
import time


def percentile90(values):
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)
    return ordered[max(rank, 1) - 1]


def latency(values):
    return {"median_ms": statistics.median(values) * 1000, "p90_ms": percentile90(values) * 1000,
            "best_ms": min(values) * 1000, "runs": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()

    start = time.monotonic()
    import torch
    from transformers import GPT2LMHeadModel
    torch.set_num_threads(args.threads)
    model = GPT2LMHeadModel.from_pretrained(args.model_dir, torch_dtype=torch.float32)
    model.eval()
    out = {"load": {"seconds": time.monotonic() - start},
           "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__}}
    prompts = json.load(open(args.prompts))

    @torch.inference_mode()
    def topk(ids, k=10):
        t = time.monotonic()
        logits = model(torch.tensor([ids])).logits[0, -1]
        probs = torch.softmax(logits, dim=-1)
        top = torch.topk(probs, k)
        result = top.indices.tolist()
        return time.monotonic() - t, result

    topk(prompts["same"] + prompts["same"])  # warm-up, as lmbench does
    _, out["top_ids"] = topk(prompts["same"])
    out["topk_same_prompt"] = latency([topk(prompts["same"])[0] for _ in prompts["fresh"]])
    out["topk_fresh_4_words"] = latency([topk(ids)[0] for ids in prompts["fresh"]])
    for length, runs in sorted(prompts["prefill"].items(), key=lambda kv: int(kv[0])):
        if runs:
            seconds = statistics.median([topk(ids)[0] for ids in runs])
            out[f"prefill_{length}"] = {"value": int(length) / seconds, "unit": "tok/s"}

    @torch.inference_mode()
    def complete(ids, n):
        t = time.monotonic()
        result = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=50256)
        return result.shape[1] - len(ids), time.monotonic() - t

    for n in (32, 256):
        runs = prompts[f"decode{n}"][: (5 if n == 32 else 2)]
        totals = []
        tokens = 0
        for ids in runs:
            made, seconds = complete(ids, n)
            tokens += made
            totals.append(seconds)
        out[f"complete_{n}_total"] = {"seconds": statistics.median(totals)}
        out[f"decode_{n}"] = {"value": tokens / sum(totals), "unit": "tok/s"}

    out["topk_fresh_450"] = latency([topk(ids)[0] for ids in prompts["long"]])
    context = list(prompts["typing_context"])
    out["typing_context"] = {"seconds": topk(context)[0]}
    strokes = []
    for word in prompts["typing_words"]:
        context += word
        strokes.append(topk(context)[0])
    out["typing_keystroke"] = latency(strokes)

    # The same keystrokes with the previous keystroke's past_key_values.
    with torch.inference_mode():
        context = list(prompts["typing_context"])
        result = model(torch.tensor([context]), use_cache=True)
        past = result.past_key_values
        strokes = []
        for word in prompts["typing_words"]:
            t = time.monotonic()
            result = model(torch.tensor([word]), past_key_values=past, use_cache=True)
            past = result.past_key_values
            torch.topk(torch.softmax(result.logits[0, -1], dim=-1), 10).indices.tolist()
            strokes.append(time.monotonic() - t)
        out["typing_keystroke_with_cache"] = latency(strokes)
    out["peak_rss"] = {"bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}

    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)
    for key, figure in out.items():
        if key in ("top_ids", "versions"):
            print(f"{key}: {figure}")
        elif "median_ms" in figure:
            print(f"{key:32s} {figure['median_ms']:.1f} / {figure['p90_ms']:.1f} ms")
        elif "value" in figure:
            print(f"{key:32s} {figure['value']:.1f} {figure['unit']}")
        elif "seconds" in figure:
            print(f"{key:32s} {figure['seconds'] * 1000:.0f} ms")
        elif "bytes" in figure:
            print(f"{key:32s} {figure['bytes'] / 1048576:.0f} MiB")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
