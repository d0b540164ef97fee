"""Convert an lmbench model folder (GPT-2 config.json, float32 model.safetensors, vocab.json, merges.txt)
to a GGUF F32 file that llama.cpp loads as architecture "gpt2".

Only the `gguf` package (and numpy, which it brings) is used; the safetensors file is read by hand.
usage: python gguf_from_lmbench.py MODEL_DIR OUT.gguf
"""
import json
import struct
import sys

import numpy as np
import gguf


def read_safetensors(path):
    """name -> float32 numpy array (memory-mapped)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    base = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{name}: only F32 checkpoints are handled, not {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = np.memmap(path, dtype="<f4", mode="r", offset=base + start, shape=tuple(info["shape"]))
    return tensors


def main(model_dir, out_path):
    config = json.load(open(f"{model_dir}/config.json"))
    weights = read_safetensors(f"{model_dir}/model.safetensors")
    prefix = "transformer." if "transformer.wte.weight" in weights else ""
    n_embd, n_layer = config["n_embd"], config["n_layer"]

    writer = gguf.GGUFWriter(out_path, "gpt2")
    writer.add_name("lmbench-random-gpt2")
    writer.add_block_count(n_layer)
    writer.add_context_length(config["n_positions"])
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(config.get("n_inner") or 4 * n_embd)
    writer.add_head_count(config["n_head"])
    writer.add_layer_norm_eps(config.get("layer_norm_epsilon", 1e-5))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = json.load(open(f"{model_dir}/vocab.json", encoding="utf-8"))
    tokens = [None] * len(vocab)
    for text, index in vocab.items():
        tokens[index] = text
    eos = config.get("eos_token_id", 50256)
    merges = [line for line in open(f"{model_dir}/merges.txt", encoding="utf-8").read().split("\n")
              if line and not line.startswith("#version")]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if i == eos else gguf.TokenType.NORMAL for i in range(len(tokens))])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(config.get("bos_token_id", 50256))
    writer.add_eos_token_id(eos)

    def put(name, key, transpose=False):
        array = np.asarray(weights[prefix + key], dtype=np.float32)
        # HF GPT-2 Conv1D weights are stored in × out; GGUF wants out × in rows, as nn.Linear.
        writer.add_tensor(name, np.ascontiguousarray(array.T) if transpose else array)

    put("token_embd.weight", "wte.weight")
    put("position_embd.weight", "wpe.weight")
    for i in range(n_layer):
        h, b = f"h.{i}.", f"blk.{i}."
        put(b + "attn_norm.weight", h + "ln_1.weight")
        put(b + "attn_norm.bias", h + "ln_1.bias")
        put(b + "attn_qkv.weight", h + "attn.c_attn.weight", transpose=True)
        put(b + "attn_qkv.bias", h + "attn.c_attn.bias")
        put(b + "attn_output.weight", h + "attn.c_proj.weight", transpose=True)
        put(b + "attn_output.bias", h + "attn.c_proj.bias")
        put(b + "ffn_norm.weight", h + "ln_2.weight")
        put(b + "ffn_norm.bias", h + "ln_2.bias")
        put(b + "ffn_up.weight", h + "mlp.c_fc.weight", transpose=True)
        put(b + "ffn_up.bias", h + "mlp.c_fc.bias")
        put(b + "ffn_down.weight", h + "mlp.c_proj.weight", transpose=True)
        put(b + "ffn_down.bias", h + "mlp.c_proj.bias")
    put("output_norm.weight", "ln_f.weight")
    put("output_norm.bias", "ln_f.bias")
    if "lm_head.weight" in weights and not config.get("tie_word_embeddings", True):
        writer.add_tensor("output.weight", np.asarray(weights["lm_head.weight"], dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
