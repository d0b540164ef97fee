"""Time llama.cpp's llama-server on the cases lmbench measures, with lmbench's own prompts.

Standard library only. It starts llama-server (on 127.0.0.1), replays the token ids written by
`lmbench --dump-prompts FILE` through /completion, and prints the same table rows as lmbench; with
`--lmbench-json FILE` (the output of `lmbench --json`) it prints the figures side by side.

usage: python llama_server_bench.py --server PATH/llama-server --model MODEL.gguf --prompts PROMPTS.json
           [--threads 2] [--port 8091] [--lmbench-json LMBENCH.json] [--json OUT.json]
"""
import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time


def percentile90(values):
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)  # ceil(0.9 n), nearest rank as lmbench
    return ordered[max(rank, 1) - 1]


class Server:
    def __init__(self, path, model, threads, port, parallel):
        self.port = port
        args = [path, "-m", model, "-t", str(threads), "-tb", str(threads), "-c", str(1024 * parallel),
                "-np", str(parallel), "--host", "127.0.0.1", "--port", str(port), "--no-webui"]
        self.log = open("/tmp/llama-server-bench.log", "w")
        start = time.monotonic()
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            if self.process.poll() is not None:
                sys.exit(f"llama-server exited ({self.process.returncode}); see /tmp/llama-server-bench.log")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                healthy = conn.getresponse().status == 200
                conn.close()
                if healthy:
                    break
            except OSError:
                pass
            time.sleep(0.005)
        self.load_seconds = time.monotonic() - start

    def peak_rss(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Client:
    """An HTTP client of llama-server. Each request opens its own connection (a loopback connect costs
    well under a millisecond): llama-server's HTTP library closes kept-alive connections after a few
    requests, and a request sent on a connection it has just closed fails."""

    def __init__(self, port):
        self.port = port

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def post(self, body):
        conn = self.connect()
        conn.request("POST", "/completion", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"/completion answered {response.status}: {data[:300]}")
        return json.loads(data)

    def topk(self, ids, k=10):
        """The k most likely next tokens after ids: one evaluation, one token chosen, its top-k reported."""
        start = time.monotonic()
        result = self.post({"prompt": ids, "n_predict": 1, "n_probs": k, "temperature": 0, "cache_prompt": True})
        return time.monotonic() - start, result

    def complete(self, ids, n):
        """Greedy completion of n tokens, streamed: (tokens, seconds to first token, total seconds)."""
        body = {"prompt": ids, "n_predict": n, "temperature": 0, "ignore_eos": True, "stream": True, "cache_prompt": True}
        start = time.monotonic()
        conn = self.connect()
        conn.request("POST", "/completion", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        first, tokens, server_rate = None, 0, None
        while True:
            line = response.readline()
            if not line:
                break
            if not line.startswith(b"data: "):
                continue
            event = json.loads(line[6:])
            if event.get("tokens") or event.get("content"):
                tokens += max(1, len(event.get("tokens") or []))
                if first is None:
                    first = time.monotonic()
            if event.get("stop"):
                tokens = event.get("tokens_predicted", tokens) or tokens
                server_rate = (event.get("timings") or {}).get("predicted_per_second")
                break
        end = time.monotonic()
        conn.close()
        return tokens, (first or end) - start, end - start, server_rate


def concurrently(port, lists, request):
    clients = [Client(port) for _ in lists]
    counts = [0] * len(lists)

    def work(i):
        for ids in lists[i]:
            counts[i] += request(clients[i], ids)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(lists))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    return sum(len(l) for l in lists), sum(counts), seconds


def latency(values):
    return {"median_ms": statistics.median(values) * 1000, "p90_ms": percentile90(values) * 1000,
            "best_ms": min(values) * 1000, "runs": len(values)}


def run(args):
    prompts = json.load(open(args.prompts))
    server = Server(args.server, args.model, args.threads, args.port, len(prompts["concurrent"]))
    out = {"load": {"seconds": server.load_seconds}}
    try:
        client = Client(args.port)
        client.topk(prompts["same"] + prompts["same"])  # warm-up, as lmbench does

        _, first = client.topk(prompts["same"])
        out["top_ids"] = [p["id"] for p in first["completion_probabilities"][0]["top_logprobs"]] \
            if "top_logprobs" in first["completion_probabilities"][0] else None
        out["topk_same_prompt"] = latency([client.topk(prompts["same"])[0] for _ in prompts["fresh"]])
        out["topk_fresh_4_words"] = latency([client.topk(ids)[0] for ids in prompts["fresh"]])
        for length, runs in sorted(prompts["prefill"].items(), key=lambda kv: int(kv[0])):
            if runs:
                seconds = statistics.median([client.topk(ids)[0] for ids in runs])
                out[f"prefill_{length}"] = {"value": int(length) / seconds, "unit": "tok/s"}
        for n in (32, 256):
            rates, firsts, totals = [], [], []
            for ids in prompts[f"decode{n}"]:
                tokens, first_token, total, server_rate = client.complete(ids, n)
                # The server holds back text it has not finished (a token that ends inside a UTF-8
                # character, as random weights often make), so its first event can come several tokens
                # late and a rate from the events' times comes out too high: its own count is used.
                if server_rate:
                    rates.append(server_rate)
                elif tokens >= 2 and total > first_token:
                    rates.append((tokens - 1) / (total - first_token))
                firsts.append(first_token)
                totals.append(total)
            rates.sort()
            out[f"decode_{n}"] = {"value": rates[len(rates) // 2], "unit": "tok/s"}
            out[f"decode_{n}_first_token"] = {"seconds": statistics.median(firsts)}
            out[f"complete_{n}_total"] = {"seconds": statistics.median(totals)}
        out["topk_fresh_450"] = latency([client.topk(ids)[0] for ids in prompts["long"]])
        context = list(prompts["typing_context"])
        out["typing_context"] = {"seconds": client.topk(context)[0]}
        strokes = []
        for word in prompts["typing_words"]:
            context += word
            strokes.append(client.topk(context)[0])
        out["typing_keystroke"] = latency(strokes)

        requests, _, seconds = concurrently(args.port, prompts["concurrent"], lambda c, ids: (c.topk(ids), 1)[1])
        out["concurrent_topk"] = {"value": requests / seconds, "unit": "req/s"}
        requests, tokens, seconds = concurrently(args.port, prompts["concurrent"], lambda c, ids: c.complete(ids, 32)[0])
        out["concurrent_complete_32"] = {"value": requests / seconds, "unit": "req/s"}
        out["concurrent_complete_32_tokens"] = {"value": tokens / seconds, "unit": "tok/s"}
        out["peak_rss"] = {"bytes": server.peak_rss()}
    finally:
        server.stop()
    return out


def cell(figure):
    if figure is None:
        return "–"
    if "median_ms" in figure:
        return f"{figure['median_ms']:.1f} / {figure['p90_ms']:.1f} ms"
    if "value" in figure:
        return (f"{figure['value']:.0f} " if figure["value"] >= 100 else f"{figure['value']:.1f} ") + figure["unit"]
    if "seconds" in figure:
        s = figure["seconds"]
        return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.0f} ms"
    if "bytes" in figure and figure["bytes"]:
        return f"{figure['bytes'] / 1048576:.0f} MiB"
    return "–"


ROWS = ["load", "topk_same_prompt", "topk_fresh_4_words", "prefill_128", "prefill_512", "decode_32",
        "decode_32_first_token", "complete_32_total", "decode_256", "decode_256_first_token", "complete_256_total",
        "topk_fresh_450", "typing_context",
        "typing_keystroke", "concurrent_topk", "concurrent_complete_32", "concurrent_complete_32_tokens", "peak_rss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--lmbench-json")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        json.dump(figures, open(args.json, "w"), indent=1)
    columns = [("llama-server", figures)]
    if args.lmbench_json:
        lm = json.load(open(args.lmbench_json))
        columns = [("lmbench in process", lm.get("in_process") or {}), ("lmd (socket)", lm.get("lmd") or {})] + columns
    print("case".ljust(32) + "".join(name.ljust(24) for name, _ in columns))
    for row in ROWS:
        print(row.ljust(32) + "".join(cell(data.get(row)).ljust(24) for _, data in columns))
    if args.lmbench_json:
        ours = (lm.get("in_process") or lm.get("lmd") or {}).get("topk_same_prompt_ids")
        same = "the same" if ours == figures.get("top_ids") else f"DIFFERENT ({ours} vs {figures.get('top_ids')})"
        print(f"top-10 ids for the repeated prompt: lmbench and llama-server give {same}")


if __name__ == "__main__":
    main()
