/// One weight the model needs: its Hugging Face checkpoint key and the shape the config implies.
public struct WeightSpec: Sendable, Equatable {
    /// The key in the checkpoint, e.g. "transformer.h.0.attn.c_attn.weight".
    public let key: String
    /// The exact shape expected (Conv1D weights are stored in × out).
    public let shape: [Int]
}

/// The one place that maps the Swift weight names to Hugging Face GPT-2 checkpoint keys and shapes.
///
/// Two layouts exist: `save_pretrained` of `GPT2LMHeadModel` prefixes every key with
/// "transformer." (distilgpt2, most fine-tunes); the original `gpt2` upload saved the bare
/// `GPT2Model`, so its keys start at "h.0…", "wte…". `lm_head.weight` is never prefixed and is
/// optional (tied to wte). The `.attn.bias` / `.attn.masked_bias` causal-mask buffers some
/// checkpoints carry are not weights and are ignored.
public struct CheckpointKeys: Sendable, Equatable {
    /// "transformer." or "".
    public let prefix: String

    /// The `save_pretrained` layout: "transformer.h.0.attn.c_attn.weight".
    public static let prefixed = CheckpointKeys(prefix: "transformer.")
    /// The original gpt2 layout: "h.0.attn.c_attn.weight".
    public static let bare = CheckpointKeys(prefix: "")

    /// The untied output head's key.
    public static let lmHead = "lm_head.weight"

    /// The layout whose token embedding `contains` finds, or nil when neither has one.
    public static func detect(_ contains: (String) -> Bool) -> CheckpointKeys? {
        if contains(prefixed.prefix + "wte.weight") { return .prefixed }
        if contains(bare.prefix + "wte.weight") { return .bare }
        return nil
    }

    /// Token embedding, [V, C].
    public func wte(_ c: GPT2Config) -> WeightSpec { WeightSpec(key: prefix + "wte.weight", shape: [c.vocabSize, c.nEmbd]) }
    /// Position embedding, [P, C].
    public func wpe(_ c: GPT2Config) -> WeightSpec { WeightSpec(key: prefix + "wpe.weight", shape: [c.nPositions, c.nEmbd]) }
    /// Final LayerNorm gain, [C].
    public func lnfWeight(_ c: GPT2Config) -> WeightSpec { WeightSpec(key: prefix + "ln_f.weight", shape: [c.nEmbd]) }
    /// Final LayerNorm bias, [C].
    public func lnfBias(_ c: GPT2Config) -> WeightSpec { WeightSpec(key: prefix + "ln_f.bias", shape: [c.nEmbd]) }
    /// Untied output head, [V, C] (nn.Linear: out × in).
    public func lmHead(_ c: GPT2Config) -> WeightSpec { WeightSpec(key: Self.lmHead, shape: [c.vocabSize, c.nEmbd]) }

    /// The keys and shapes of block `i`.
    public func layer(_ i: Int, _ c: GPT2Config) -> LayerKeys {
        let h = "\(prefix)h.\(i)."
        let C = c.nEmbd, I = c.nInner
        return LayerKeys(
            ln1Weight: WeightSpec(key: h + "ln_1.weight", shape: [C]),
            ln1Bias: WeightSpec(key: h + "ln_1.bias", shape: [C]),
            attnWeight: WeightSpec(key: h + "attn.c_attn.weight", shape: [C, 3 * C]),
            attnBias: WeightSpec(key: h + "attn.c_attn.bias", shape: [3 * C]),
            attnProjWeight: WeightSpec(key: h + "attn.c_proj.weight", shape: [C, C]),
            attnProjBias: WeightSpec(key: h + "attn.c_proj.bias", shape: [C]),
            ln2Weight: WeightSpec(key: h + "ln_2.weight", shape: [C]),
            ln2Bias: WeightSpec(key: h + "ln_2.bias", shape: [C]),
            fcWeight: WeightSpec(key: h + "mlp.c_fc.weight", shape: [C, I]),
            fcBias: WeightSpec(key: h + "mlp.c_fc.bias", shape: [I]),
            mlpProjWeight: WeightSpec(key: h + "mlp.c_proj.weight", shape: [I, C]),
            mlpProjBias: WeightSpec(key: h + "mlp.c_proj.bias", shape: [C])
        )
    }

    /// The block index a key belongs to in this layout ("h.7.mlp…" → 7), or nil for other keys.
    public func layerIndex(of key: String) -> Int? {
        guard key.hasPrefix(prefix + "h.") else { return nil }
        let rest = key.dropFirst(prefix.count + 2)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { return nil }
        return index
    }

    /// Keys of buffers (the causal mask) that some checkpoints store next to the weights.
    public static func isIgnoredBuffer(_ key: String) -> Bool {
        key.hasSuffix(".attn.bias") || key.hasSuffix(".attn.masked_bias")
    }
}

/// The keys and shapes of one transformer block, named as in `GPT2LayerWeights`.
public struct LayerKeys: Sendable, Equatable {
    /// ln_1.weight [C], ln_1.bias [C]
    public let ln1Weight, ln1Bias: WeightSpec
    /// attn.c_attn.weight [C, 3C], attn.c_attn.bias [3C]
    public let attnWeight, attnBias: WeightSpec
    /// attn.c_proj.weight [C, C], attn.c_proj.bias [C]
    public let attnProjWeight, attnProjBias: WeightSpec
    /// ln_2.weight [C], ln_2.bias [C]
    public let ln2Weight, ln2Bias: WeightSpec
    /// mlp.c_fc.weight [C, I], mlp.c_fc.bias [I]
    public let fcWeight, fcBias: WeightSpec
    /// mlp.c_proj.weight [I, C], mlp.c_proj.bias [C]
    public let mlpProjWeight, mlpProjBias: WeightSpec

    /// All twelve, in checkpoint order.
    public var all: [WeightSpec] {
        [ln1Weight, ln1Bias, attnWeight, attnBias, attnProjWeight, attnProjBias,
         ln2Weight, ln2Bias, fcWeight, fcBias, mlpProjWeight, mlpProjBias]
    }
}
