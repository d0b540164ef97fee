import GGUF

/// One weight as llama.cpp's GGUF files hold GPT-2: its tensor name, the shape the model wants (Conv1D
/// weights in × out, as in `CheckpointKeys`), and whether the file stores it transposed.
struct GGUFWeightSpec: Equatable {
    /// The GGUF tensor name, e.g. "blk.0.attn_qkv.weight".
    let name: String
    /// The shape `GPT2Weights` holds, row-major.
    let shape: [Int]
    /// True for the four Conv1D weights: llama.cpp's converter transposes HF's [in, out] to the
    /// nn.Linear layout [out, in], so the file's row-major shape is `shape` reversed.
    let transposed: Bool

    /// The row-major shape the file must have (GGUF's `ne` is this reversed).
    var fileShape: [Int] { transposed ? shape.reversed() : shape }

    /// The spec as `GPT2LayerWeights` names its parts (the GGUF name as key, the model's shape).
    var weightSpec: WeightSpec { WeightSpec(key: name, shape: shape) }
}

/// The one place that maps the model's weights to llama.cpp's GPT-2 tensor names and metadata keys
/// (convert_hf_to_gguf.py, class GPT2Model, and llama.cpp's LLM_ARCH_GPT2 tensor table):
///
///   wte → token_embd, wpe → position_embd, h.N.ln_1 → blk.N.attn_norm, h.N.attn.c_attn →
///   blk.N.attn_qkv, h.N.attn.c_proj → blk.N.attn_output, h.N.ln_2 → blk.N.ffn_norm, h.N.mlp.c_fc →
///   blk.N.ffn_up, h.N.mlp.c_proj → blk.N.ffn_down, ln_f → output_norm, lm_head → output (optional).
enum GGUFKeys {
    static let architecture = "general.architecture"
    static let tokenEmbedding = "token_embd.weight"
    static let positionEmbedding = "position_embd.weight"
    static let outputNormWeight = "output_norm.weight"
    static let outputNormBias = "output_norm.bias"
    static let output = "output.weight"

    /// "gpt2.context_length" and the like: architecture-scoped hyperparameter keys.
    static func hyperparameter(_ name: String) -> String { "gpt2." + name }

    static func wte(_ c: GPT2Config) -> GGUFWeightSpec {
        GGUFWeightSpec(name: tokenEmbedding, shape: [c.vocabSize, c.nEmbd], transposed: false)
    }
    static func wpe(_ c: GPT2Config) -> GGUFWeightSpec {
        GGUFWeightSpec(name: positionEmbedding, shape: [c.nPositions, c.nEmbd], transposed: false)
    }
    static func lnfWeight(_ c: GPT2Config) -> GGUFWeightSpec {
        GGUFWeightSpec(name: outputNormWeight, shape: [c.nEmbd], transposed: false)
    }
    static func lnfBias(_ c: GPT2Config) -> GGUFWeightSpec {
        GGUFWeightSpec(name: outputNormBias, shape: [c.nEmbd], transposed: false)
    }
    /// The untied head, [V, C]: nn.Linear layout in both HF and GGUF, so never transposed.
    static func lmHead(_ c: GPT2Config) -> GGUFWeightSpec {
        GGUFWeightSpec(name: output, shape: [c.vocabSize, c.nEmbd], transposed: false)
    }

    /// Block `i`'s twelve weights, in `LayerKeys.all` order.
    static func layer(_ i: Int, _ c: GPT2Config) -> [GGUFWeightSpec] {
        let b = "blk.\(i)."
        let C = c.nEmbd, I = c.nInner
        return [
            GGUFWeightSpec(name: b + "attn_norm.weight", shape: [C], transposed: false),
            GGUFWeightSpec(name: b + "attn_norm.bias", shape: [C], transposed: false),
            GGUFWeightSpec(name: b + "attn_qkv.weight", shape: [C, 3 * C], transposed: true),
            GGUFWeightSpec(name: b + "attn_qkv.bias", shape: [3 * C], transposed: false),
            GGUFWeightSpec(name: b + "attn_output.weight", shape: [C, C], transposed: true),
            GGUFWeightSpec(name: b + "attn_output.bias", shape: [C], transposed: false),
            GGUFWeightSpec(name: b + "ffn_norm.weight", shape: [C], transposed: false),
            GGUFWeightSpec(name: b + "ffn_norm.bias", shape: [C], transposed: false),
            GGUFWeightSpec(name: b + "ffn_up.weight", shape: [C, I], transposed: true),
            GGUFWeightSpec(name: b + "ffn_up.bias", shape: [I], transposed: false),
            GGUFWeightSpec(name: b + "ffn_down.weight", shape: [I, C], transposed: true),
            GGUFWeightSpec(name: b + "ffn_down.bias", shape: [C], transposed: false),
        ]
    }

    /// Block `i`'s specs as the `LayerKeys` that `GPT2LayerWeights` is built from.
    static func layerKeys(_ specs: [GGUFWeightSpec]) -> LayerKeys {
        let s = specs.map(\.weightSpec)
        return LayerKeys(
            ln1Weight: s[0], ln1Bias: s[1], attnWeight: s[2], attnBias: s[3], attnProjWeight: s[4], attnProjBias: s[5],
            ln2Weight: s[6], ln2Bias: s[7], fcWeight: s[8], fcBias: s[9], mlpProjWeight: s[10], mlpProjBias: s[11])
    }

    /// The block index of a "blk.N.…" name, or nil for other names.
    static func layerIndex(of name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { return nil }
        return index
    }
}
