#!/usr/bin/env python3
"""Converts a Hugging Face GPT-2 folder (model.safetensors + tokenizer.json) into GGUF files laid out
as llama.cpp's converter (convert_hf_to_gguf.py, class GPT2Model) writes GPT-2, in three variants:

  <name>-f32.gguf   every tensor float32
  <name>-f16.gguf   2-D weights float16; norms, biases and position_embd float32
  <name>-q8_0.gguf  2-D weights Q8_0 (F16 where a row is not a multiple of 32); the rest float32

Requirements (in a throwaway venv, not committed): gguf numpy  (the committed files: gguf 0.19.0, numpy 2.4.6)
    python3 -m venv /tmp/gguf-venv && /tmp/gguf-venv/bin/pip install gguf numpy
    /tmp/gguf-venv/bin/python scripts/make-gguf-fixture.py Tests/Fixtures/tiny-gpt2 Tests/Fixtures/tiny-gpt2-gguf

What follows llama.cpp and why:
  * HF GPT-2 stores c_attn / c_proj / c_fc as Conv1D weights, [in, out]; llama.cpp transposes them to
    the nn.Linear layout [out, in], which GGUF then records fastest-varying first: ne = [in, out].
  * The causal-mask buffers (.attn.bias, .attn.masked_bias) are dropped.
  * 1-D tensors, norms, biases and position_embd stay float32 in every variant; token_embd is quantized
    like the other 2-D weights.
  * gpt2.context_length comes from n_ctx in llama.cpp; configs written by recent transformers only
    have n_positions, which is the same number, so this script takes n_ctx and falls back to n_positions.
  * Tokenizer: tokenizer.ggml.model "gpt2", pre "gpt-2", the tokens by id, token types (NORMAL, CONTROL
    for special added tokens, USER_DEFINED for other added tokens and [PADn] fillers), merges as "a b".
"""

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import gguf

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """A float safetensors file as numpy arrays (no torch needed)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + begin : 8 + n + end], dtype=dtype).reshape(info["shape"]).astype(np.float32)
    return out


def gguf_name(hf: str) -> str | None:
    """llama.cpp's GPT-2 tensor name for an HF key, or None for buffers that are not weights."""
    name = hf.removeprefix("transformer.")
    if name.endswith((".attn.bias", ".attn.masked_bias")):
        return None
    fixed = {"wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
             "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias",
             "lm_head.weight": "output.weight"}
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    if parts[0] != "h":
        raise ValueError(f"unexpected tensor {hf}")
    block = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output",
             "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
    module = ".".join(parts[2:-1])
    return f"blk.{parts[1]}.{block[module]}.{parts[-1]}"


def stored_type(name: str, data: np.ndarray, variant: str) -> gguf.GGMLQuantizationType:
    """The type llama.cpp's converter picks for a tensor in a file of `variant`."""
    f32 = gguf.GGMLQuantizationType.F32
    if variant == "f32" or data.ndim <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return f32
    if name == "position_embd.weight":
        return f32
    if variant == "f16":
        return gguf.GGMLQuantizationType.F16
    if data.shape[-1] % 32 != 0:  # llama.cpp falls back to F16 when rows do not fill Q8_0 blocks
        return gguf.GGMLQuantizationType.F16
    return gguf.GGMLQuantizationType.Q8_0


def tokenizer_tables(model_dir: Path, vocab_size: int):
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab: dict[str, int] = dict(tok["model"]["vocab"])
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    for t in added.values():
        vocab[t["content"]] = t["id"]
    by_id = {i: s for s, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.USER_DEFINED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if added[i]["special"] else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text()) if (model_dir / "tokenizer_config.json").exists() else {}
    special = {}
    for key in ("bos", "eos", "unk"):
        content = cfg.get(f"{key}_token")
        if isinstance(content, dict):
            content = content.get("content")
        if content in vocab:
            special[key] = vocab[content]
    return tokens, types, merges, special


def convert(model_dir: Path, out_dir: Path, variant: str) -> Path:
    config = json.loads((model_dir / "config.json").read_text())
    n_embd = config["n_embd"]
    weights = read_safetensors(model_dir / "model.safetensors")
    out = out_dir / f"{model_dir.name}-{variant}.gguf"
    writer = gguf.GGUFWriter(out, "gpt2")
    writer.add_name(model_dir.name)
    writer.add_block_count(config["n_layer"])
    writer.add_context_length(config.get("n_ctx", config["n_positions"]))
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(config.get("n_inner") or 4 * n_embd)
    writer.add_head_count(config["n_head"])
    writer.add_layer_norm_eps(config["layer_norm_epsilon"])
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[variant]
    writer.add_file_type(file_type)

    tokens, types, merges, special = tokenizer_tables(model_dir, config["vocab_size"])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if "bos" in special:
        writer.add_bos_token_id(special["bos"])
    if "eos" in special:
        writer.add_eos_token_id(special["eos"])
    if "unk" in special:
        writer.add_unk_token_id(special["unk"])

    def order(hf_name: str):  # embeddings, blocks in order, final norm
        name = gguf_name(hf_name) or ""
        block = re.match(r"blk\.(\d+)\.", name)
        return (1, int(block.group(1)), name) if block else (0 if "embd" in name else 2, 0, name)

    for hf_name in sorted(weights, key=order):
        name = gguf_name(hf_name)
        if name is None:
            continue
        data = weights[hf_name]
        if hf_name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = np.ascontiguousarray(data.T)  # Conv1D [in, out] -> Linear [out, in]
        qtype = stored_type(name, data, variant)
        packed = gguf.quants.quantize(data, qtype)
        writer.add_tensor(name, packed, raw_dtype=qtype)  # the writer derives Q8_0's shape from its bytes

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: make-gguf-fixture.py MODEL_DIR OUT_DIR")
    model_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for variant in ("f32", "f16", "q8_0"):
        path = convert(model_dir, out_dir, variant)
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
