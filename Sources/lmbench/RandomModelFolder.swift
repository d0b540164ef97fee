import Foundation
import GPT2
import SafeTensors

/// A GPT-2 model folder with made-up weights of any shape: `model.safetensors` (float32),
/// `config.json`, and the real GPT-2 tokenizer (`vocab.json`, `merges.txt`) copied from the test
/// fixtures, so that a benchmark can run on distilgpt2's shape without downloading anything.
struct RandomModelFolder {
    /// Where the folder is.
    let directory: URL
    /// The shape to write.
    let config: GPT2Config

    /// The tokenizer files copied into the folder.
    static let tokenizerFiles = ["vocab.json", "merges.txt"]

    /// True when the folder already holds a model (config, weights and tokenizer).
    var exists: Bool {
        (["config.json", "model.safetensors"] + Self.tokenizerFiles).allSatisfy {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
    }

    /// Writes the folder (replacing the files it writes); `tokenizerSource` holds vocab.json and merges.txt.
    func write(tokenizerSource: URL, seed: UInt64 = 20_240_601) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in Self.tokenizerFiles {
            let source = tokenizerSource.appendingPathComponent(name)
            let target = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: source.path) else {
                throw BenchError.setup("the tokenizer file \(source.path) is missing (run lmbench from the repository, or pass --tokenizer DIR)")
            }
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: source, to: target)
        }

        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        let keys = CheckpointKeys.prefixed
        var specs = [keys.wte(config), keys.wpe(config)]
        for layer in 0..<config.nLayer { specs += keys.layer(layer, config).all }
        specs += [keys.lnfWeight(config), keys.lnfBias(config)]
        if !config.tieWordEmbeddings { specs.append(keys.lmHead(config)) }
        for (index, spec) in specs.enumerated() {
            let isGain = spec.key.hasSuffix("ln_1.weight") || spec.key.hasSuffix("ln_2.weight") || spec.key.hasSuffix("ln_f.weight")
            let stream = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            try writer.add(spec.key, shape: spec.shape) { buffer in
                Self.fill(buffer, stream: stream, mean: isGain ? 1 : 0, std: 0.02)
            }
        }
        // Written under a temporary name and renamed, so that an interrupted write never looks complete.
        let weights = directory.appendingPathComponent("model.safetensors")
        let partial = directory.appendingPathComponent("model.safetensors.partial")
        try writer.write(to: partial)
        try? FileManager.default.removeItem(at: weights)
        try FileManager.default.moveItem(at: partial, to: weights)
        try configJSON().write(to: directory.appendingPathComponent("config.json"))
    }

    /// Uniform values of mean `mean` and standard deviation `std`: a counter hashed by SplitMix64's
    /// finaliser, so each value is independent of the others and the fill is as fast as memory.
    private static func fill(_ buffer: UnsafeMutableBufferPointer<Float>, stream: UInt64, mean: Float, std: Float) {
        // Uniform on [-a, a] has standard deviation a/√3.
        let amplitude = std * Float(3).squareRoot()
        for i in 0..<buffer.count {
            var z = stream &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            buffer[i] = mean + amplitude * (Float(z >> 40) * 0x1p-23 - 1)
        }
    }

    /// A Hugging Face style config.json for `config`.
    func configJSON() throws -> Data {
        let object: [String: Any] = [
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "activation_function": "gelu_new",
            "vocab_size": config.vocabSize,
            "n_positions": config.nPositions,
            "n_ctx": config.nPositions,
            "n_embd": config.nEmbd,
            "n_layer": config.nLayer,
            "n_head": config.nHead,
            "n_inner": NSNull(),
            "layer_norm_epsilon": Double(config.layerNormEpsilon),
            "bos_token_id": config.bosTokenId,
            "eos_token_id": config.eosTokenId,
            "tie_word_embeddings": config.tieWordEmbeddings,
            "scale_attn_weights": true,
            "torch_dtype": "float32",
            "lmbench_note": "random weights written by lmbench (uniform, std 0.02; layer-norm gains 1 ± 0.02)",
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}
