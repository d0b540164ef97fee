import Dispatch
import Foundation
import GGUF

/// A GPT-2 model read from one GGUF file as llama.cpp writes it: config, weights and tokenizer tables.
///
/// Errors: a damaged file or metadata of the wrong type is a `GGUFError`; what does not fit GPT-2
/// (another architecture, a missing tensor, a wrong shape) is a `GPT2LoadError` naming the file and the
/// GGUF key or tensor. Shapes in errors are row-major (outermost first), i.e. GGUF's `ne` reversed.
public struct GGUFCheckpoint: Sendable {
    /// The hyperparameters, from the `gpt2.*` metadata and the token embedding's size.
    public let config: GPT2Config
    /// The weights as float32 in the model's layout.
    public let weights: GPT2Weights
    /// The tokenizer the file carries.
    public let tokenizer: GGUFTokenizerTables

    /// Opens `url` once and reads all three; throws `GGUFError` or `GPT2LoadError`.
    public static func load(_ url: URL) throws -> GGUFCheckpoint {
        let file = try GGUFFile.open(url)
        let tokenizer = try GGUFTokenizerTables(gguf: file)  // cheap: checked before converting any weight
        let (config, weights) = try GPT2Weights.load(gguf: file)
        return GGUFCheckpoint(config: config, weights: weights, tokenizer: tokenizer)
    }
}

extension GPT2Config {
    /// The config a GGUF file's metadata describes (llama.cpp's keys: `general.architecture` = "gpt2",
    /// `gpt2.context_length`, `.embedding_length`, `.feed_forward_length`, `.block_count`,
    /// `.attention.head_count`, `.attention.layer_norm_epsilon`); the vocabulary size is the token
    /// embedding's row count, and the head is untied when the file has `output.weight`.
    public init(gguf file: GGUFFile) throws {
        let meta = file.metadata
        guard let architecture = try meta.string(GGUFKeys.architecture) else { throw meta.missing(GGUFKeys.architecture) }
        guard architecture == "gpt2" else {
            throw GPT2LoadError.unsupportedConfig(file: file.path, key: GGUFKeys.architecture, value: "\"\(architecture)\"",
                                                  reason: "only \"gpt2\" models are supported")
        }
        func required(_ name: String, _ range: ClosedRange<Int>) throws -> Int {
            let key = GGUFKeys.hyperparameter(name)
            guard let value = try meta.int(key, in: range) else { throw meta.missing(key) }
            return value
        }
        let nEmbd = try required("embedding_length", 1...(1 << 20))
        let nHead = try required("attention.head_count", 1...(1 << 20))
        guard nEmbd % nHead == 0 else {
            throw GPT2LoadError.unsupportedConfig(file: file.path, key: GGUFKeys.hyperparameter("attention.head_count"),
                                                  value: "\(nHead)", reason: "embedding_length = \(nEmbd) must be divisible by it")
        }
        let nPositions = try required("context_length", 1...(1 << 24))
        let nLayer = try required("block_count", 1...(1 << 12))
        let nInner = try meta.int(GGUFKeys.hyperparameter("feed_forward_length"), in: 1...(1 << 22))

        let epsilonKey = GGUFKeys.hyperparameter("attention.layer_norm_epsilon")
        var epsilon: Float = 1e-5
        if let value = try meta.double(epsilonKey) {
            guard value > 0, value.isFinite, Float(value) > 0 else { throw meta.malformed(epsilonKey, "\(value) is not a positive number") }
            epsilon = Float(value)
        }

        guard let embedding = file.tensor(GGUFKeys.tokenEmbedding) else {
            throw GPT2LoadError.missingTensor(file: file.path, key: GGUFKeys.tokenEmbedding)
        }
        guard embedding.dimensions.count == 2, (1...(1 << 24)).contains(embedding.dimensions[1]) else {
            throw GPT2LoadError.unexpectedTensor(
                file: file.path, key: GGUFKeys.tokenEmbedding,
                reason: "its shape is \(embedding.shape); the token embedding must be [vocab_size ≤ 2^24, \(nEmbd)]")
        }
        let ids = 0...Int(Int32.max)
        // llama.cpp's GPT-2 graph is HF's gelu_new (tanh approximation) with attention scaled by 1/√d.
        self.init(
            vocabSize: embedding.dimensions[1], nPositions: nPositions, nEmbd: nEmbd, nLayer: nLayer, nHead: nHead,
            nInner: nInner, layerNormEpsilon: epsilon, activation: .geluNew,
            tieWordEmbeddings: file.tensor(GGUFKeys.output) == nil,
            bosTokenId: try meta.int("tokenizer.ggml.bos_token_id", in: ids) ?? 50256,
            eosTokenId: try meta.int("tokenizer.ggml.eos_token_id", in: ids) ?? 50256)
    }
}

extension GPT2Weights {
    /// Opens a GGUF file and reads its config and weights; throws `GGUFError` or `GPT2LoadError`.
    public static func load(gguf url: URL) throws -> (GPT2Config, GPT2Weights) {
        try load(gguf: GGUFFile.open(url))
    }

    /// Reads the config and weights of an opened GGUF file, checking every tensor's presence, type and
    /// shape before converting any. F32 embeddings are used in place; the Conv1D weights are transposed
    /// back to the model's in × out layout (so always copied); F16 / BF16 / Q8_0 are converted.
    public static func load(gguf file: GGUFFile) throws -> (GPT2Config, GPT2Weights) {
        let config = try GPT2Config(gguf: file)
        // A block beyond n_layer means the metadata and the tensors do not belong together.
        for name in file.tensorNames {
            if let i = GGUFKeys.layerIndex(of: name), i >= config.nLayer {
                throw GPT2LoadError.unexpectedTensor(file: file.path, key: name,
                                                     reason: "block \(i) but gpt2.block_count is \(config.nLayer)")
            }
        }
        let layerSpecs = (0..<config.nLayer).map { GGUFKeys.layer($0, config) }
        var specs = [GGUFKeys.wte(config), GGUFKeys.wpe(config)] + layerSpecs.flatMap { $0 }
        specs += [GGUFKeys.lnfWeight(config), GGUFKeys.lnfBias(config)]
        if !config.tieWordEmbeddings { specs.append(GGUFKeys.lmHead(config)) }
        let byName = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        for spec in specs { try check(spec, in: file) }

        var owners: [ObjectIdentifier: AnyObject] = [:]
        var zeroCopy = true
        func read(_ weight: WeightSpec) throws -> WeightTensor {
            guard let spec = byName[weight.key] else {
                throw GPT2LoadError.missingTensor(file: file.path, key: weight.key)
            }
            let tensor = try file.floats(spec.name)
            var storage = tensor.storage
            var pointer = tensor.pointer
            if spec.transposed {
                let out = GGUFFloatBuffer(count: tensor.count)
                // The file holds [out, in] row-major; the model wants [in, out].
                transpose(tensor.pointer, rows: spec.fileShape[0], columns: spec.fileShape[1], into: out.pointer)
                storage = out
                pointer = UnsafePointer(out.pointer)
            }
            let inPlace = tensor.isZeroCopy && !spec.transposed
            if !inPlace { file.releasePages(of: spec.name) }  // converted: the file's copy is not read again
            zeroCopy = zeroCopy && inPlace
            owners[ObjectIdentifier(storage)] = storage
            return WeightTensor(key: spec.name, shape: spec.shape, pointer: pointer)
        }

        let wte = try read(GGUFKeys.wte(config).weightSpec)
        let wpe = try read(GGUFKeys.wpe(config).weightSpec)
        var layers: [GPT2LayerWeights] = []
        layers.reserveCapacity(config.nLayer)
        for specs in layerSpecs {
            layers.append(try GPT2LayerWeights(GGUFKeys.layerKeys(specs), read))
        }
        let lnfWeight = try read(GGUFKeys.lnfWeight(config).weightSpec)
        let lnfBias = try read(GGUFKeys.lnfBias(config).weightSpec)
        let lmHead = config.tieWordEmbeddings ? wte : try read(GGUFKeys.lmHead(config).weightSpec)

        let weights = GPT2Weights(
            config: config, wte: wte, wpe: wpe, layers: layers, lnfWeight: lnfWeight, lnfBias: lnfBias,
            lmHead: lmHead, dtype: dtypeName(file.tensor(GGUFKeys.tokenEmbedding)?.type ?? .f32),
            isZeroCopy: zeroCopy, source: file.path, owners: Array(owners.values))
        return (config, weights)
    }

    /// Presence, readable type and exact shape of one tensor, with an error naming file and tensor.
    private static func check(_ spec: GGUFWeightSpec, in file: GGUFFile) throws {
        guard let info = file.tensor(spec.name) else {
            throw GPT2LoadError.missingTensor(file: file.path, key: spec.name)
        }
        guard info.type.isReadableAsFloat else {
            throw GGUFError.unsupportedTensorType(file: file.path, tensor: spec.name, type: info.type.name)
        }
        guard info.shape == spec.fileShape else {
            if spec.transposed, info.shape == spec.shape, spec.shape[0] != spec.shape[1] {
                throw GPT2LoadError.unexpectedTensor(
                    file: file.path, key: spec.name,
                    reason: "its shape \(info.shape) is Hugging Face's Conv1D layout [in, out]; llama.cpp stores it as [out, in] = \(spec.fileShape) (GGUF ne \(spec.shape))")
            }
            throw GPT2LoadError.shapeMismatch(file: file.path, key: spec.name, expected: spec.fileShape, actual: info.shape)
        }
    }

    /// The name `dtype` reports: PyTorch's for float types, ggml's (lowercase) for quantized ones.
    private static func dtypeName(_ type: GGUFTensorType) -> String {
        switch type {
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        default: return type.name.lowercased()
        }
    }
}

/// Writes the transpose of `source` ([rows, columns] row-major) into `destination` ([columns, rows]).
/// Done in 32 × 32 tiles so that both sides stay in cache; large matrices split across threads by
/// bands of source rows.
private func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int, into destination: UnsafeMutablePointer<Float>) {
    let tile = 32
    let bands = (rows + tile - 1) / tile
    let band = { (b: Int) in
        let r0 = b * tile, r1 = min(r0 + tile, rows)
        var c0 = 0
        while c0 < columns {
            let c1 = min(c0 + tile, columns)
            for r in r0..<r1 {
                for c in c0..<c1 { destination[c * rows + r] = source[r * columns + c] }
            }
            c0 = c1
        }
    }
    if rows * columns >= 1 << 20 {
        DispatchQueue.concurrentPerform(iterations: bands, execute: band)
    } else {
        for b in 0..<bands { band(b) }
    }
}
