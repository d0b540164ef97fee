#!/usr/bin/env python3
"""The notebook's steps against lmd: token ids, the top-k next tokens, get_top_tokens, generation.

    python3 clients/python/example.py                      # a running lmd on the default socket
    python3 clients/python/example.py --model Tests/Fixtures/tiny-gpt2 --lmd .build/debug/lmd
                                                           # starts lmd first if nothing listens

With the tiny test model the words are gibberish (its weights are random); with distilgpt2 they read
as the notebook's.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lmd_client import Client, LMDError  # noqa: E402


def get_top_tokens(lm, text, k=10):
    """The notebook's helper: the k most likely next tokens after `text` as (token, probability) pairs."""
    top = lm.topk(text, k=k, add_prefix_space=True)
    return list(zip(top["tokens"], top["probs"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", help="lmd's socket (default: $XDG_RUNTIME_DIR/lmd.sock or /tmp/lmd-$UID/lmd.sock)")
    parser.add_argument("--model", default=os.environ.get("LMD_MODEL"),
                        help="model folder for an lmd started when none is running (default: $LMD_MODEL)")
    parser.add_argument("--lmd", default=os.environ.get("LMD_BIN"), help="the lmd binary to start (default: lmd on PATH)")
    parser.add_argument("--prompt", default="This weekend I plan to")
    args = parser.parse_args()

    with Client(args.socket, model=args.model, lmd_bin=args.lmd) as lm:
        info = lm.info()
        print("model %s: %d layers, vocabulary %d, context %d" % (
            info["model"], info["n_layer"], info["vocab_size"], info["n_positions"]))

        # 1. Text to token ids (the notebook tokenizes with a space before the text; so does every step here).
        tokens = lm.tokenize(args.prompt, add_prefix_space=True)
        print("\n1. ids of %r: %s" % (args.prompt, tokens["ids"]))
        print("   tokens:", tokens["tokens"])
        print("   id 467 decodes to %r" % lm.detokenize([467])["text"])

        # 2. The most likely next tokens, with their logits and probabilities.
        top = lm.topk(ids=tokens["ids"], k=5)
        print("\n2. top 5 next tokens:")
        for rank, (token, logit, prob) in enumerate(zip(top["tokens"], top["logits"], top["probs"]), 1):
            print("   %d. %-16r logit %8.3f  p %.4f" % (rank, token, logit, prob))

        # 3. get_top_tokens, as the notebook defines it.
        print("\n3. get_top_tokens(%r, 10):" % args.prompt)
        for token, prob in get_top_tokens(lm, args.prompt, 10):
            print("   %-16r %.4f  %s" % (token, prob, "#" * max(1, round(prob * 40))))

        # 4. Generation: greedy, then streamed token by token.
        greedy = lm.complete(ids=tokens["ids"], max_tokens=16)
        print("\n4. greedy, 16 tokens: %r (%s)" % (greedy["text"], greedy["finish_reason"]))
        print("   streamed, sampled (temperature 0.8, seed 1): ", end="")
        stream = lm.complete_stream(ids=tokens["ids"], max_tokens=16, temperature=0.8, seed=1)
        for delta in stream:
            print(delta["text"], end="", flush=True)
        print(" (%s)" % stream.result["finish_reason"])

        # 5. What an editor asks for: completions of the word under the cursor.
        print("\n5. suggest(%r):" % "I wish I we")
        try:
            for s in lm.suggest("I wish I we", n=3):
                print("   suggest: insert %r  label %r  logprob %.3f" % (s["insert"], s["label"], s["logprob"]))
        except LMDError as error:
            print("   not available from this lmd: %s" % error)


if __name__ == "__main__":
    main()
