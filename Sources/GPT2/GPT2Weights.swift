import Foundation
import SafeTensors

/// All of a GPT-2 model's weights as float32, read from a checkpoint (or made up for benchmarks).
///
/// F32 checkpoints are used in place from the read-only file mapping; F16/BF16 are converted once
/// at load. This object owns that memory: every `WeightTensor` in it is valid while it lives.
public final class GPT2Weights: @unchecked Sendable {
    /// The config the weights were checked against.
    public let config: GPT2Config
    /// Token embedding, [V, C].
    public let wte: WeightTensor
    /// Position embedding, [P, C].
    public let wpe: WeightTensor
    /// The transformer blocks, in order.
    public let layers: [GPT2LayerWeights]
    /// Final LayerNorm gain and bias, [C].
    public let lnfWeight, lnfBias: WeightTensor
    /// Output head, [V, C] (logits = h · lmHeadᵀ); the same memory as `wte` when tied.
    public let lmHead: WeightTensor
    /// The checkpoint's dtype as PyTorch names it ("float32", "float16", "bfloat16").
    public let dtype: String
    /// True when every weight is read in place from the file mapping (nothing copied).
    public let isZeroCopy: Bool
    /// Where the weights came from (a file or index path), or "random".
    public let source: String
    /// Keeps the mappings and converted buffers alive.
    private let owners: [AnyObject]

    init(
        config: GPT2Config, wte: WeightTensor, wpe: WeightTensor, layers: [GPT2LayerWeights],
        lnfWeight: WeightTensor, lnfBias: WeightTensor, lmHead: WeightTensor,
        dtype: String, isZeroCopy: Bool, source: String, owners: [AnyObject]
    ) {
        self.config = config
        self.wte = wte
        self.wpe = wpe
        self.layers = layers
        self.lnfWeight = lnfWeight
        self.lnfBias = lnfBias
        self.lmHead = lmHead
        self.dtype = dtype
        self.isZeroCopy = isZeroCopy
        self.source = source
        self.owners = owners
    }

    /// Loads `model.safetensors` (or, failing that, the shards `model.safetensors.index.json` lists)
    /// from `directory`, checking every tensor against `config`; throws `GPT2LoadError`.
    public static func load(directory: URL, config: GPT2Config) throws -> GPT2Weights {
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        let checkpoint: TensorSource
        do {
            if FileManager.default.fileExists(atPath: single.path) {
                checkpoint = try SafeTensorsFile.open(single)
            } else if FileManager.default.fileExists(atPath: index.path) {
                checkpoint = try ShardedSafeTensors.open(index: index)
            } else {
                throw GPT2LoadError.missingFile(path: single.path)
            }
        } catch let error as SafeTensorsError {
            throw GPT2LoadError(error)
        }
        return try load(checkpoint: checkpoint, config: config)
    }

    /// Reads and checks the weights from an opened checkpoint (one file or sharded).
    public static func load(checkpoint: TensorSource, config: GPT2Config) throws -> GPT2Weights {
        guard let keys = CheckpointKeys.detect({ checkpoint.info($0) != nil }) else {
            let key = CheckpointKeys.prefixed.wte(config).key
            throw GPT2LoadError.missingTensor(file: checkpoint.filePath(for: key), key: key)
        }
        // A block beyond n_layer means config and weights do not belong together: refuse rather
        // than silently run a truncated model.
        for name in checkpoint.tensorNames {
            if let i = keys.layerIndex(of: name), i >= config.nLayer, !CheckpointKeys.isIgnoredBuffer(name) {
                throw GPT2LoadError.unexpectedTensor(
                    file: checkpoint.filePath(for: name), key: name,
                    reason: "block \(i) but the config has n_layer = \(config.nLayer)")
            }
        }

        let untiedHead = !config.tieWordEmbeddings && checkpoint.info(CheckpointKeys.lmHead) != nil
        var specs = [keys.wte(config), keys.wpe(config)]
        for i in 0..<config.nLayer { specs += keys.layer(i, config).all }
        specs += [keys.lnfWeight(config), keys.lnfBias(config)]
        if untiedHead { specs.append(keys.lmHead(config)) }

        // Check presence, dtype and shape of everything before reading (and converting) anything.
        for spec in specs {
            let file = checkpoint.filePath(for: spec.key)
            guard let info = checkpoint.info(spec.key) else {
                throw GPT2LoadError.missingTensor(file: file, key: spec.key)
            }
            guard info.dtype.isReadableAsFloat else {
                throw GPT2LoadError.unsupportedDType(file: file, key: spec.key, dtype: info.dtype.rawValue)
            }
            guard info.shape == spec.shape else {
                throw GPT2LoadError.shapeMismatch(file: file, key: spec.key, expected: spec.shape, actual: info.shape)
            }
        }

        var owners: [ObjectIdentifier: AnyObject] = [:]
        var zeroCopy = true
        func read(_ spec: WeightSpec) throws -> WeightTensor {
            let tensor: FloatTensor
            do {
                tensor = try checkpoint.floats(spec.key)
            } catch let error as SafeTensorsError {
                throw GPT2LoadError(error)
            }
            owners[ObjectIdentifier(tensor.storage)] = tensor.storage
            zeroCopy = zeroCopy && tensor.isZeroCopy
            return WeightTensor(key: spec.key, shape: spec.shape, pointer: tensor.pointer)
        }

        let wte = try read(keys.wte(config))
        let wpe = try read(keys.wpe(config))
        var layers: [GPT2LayerWeights] = []
        layers.reserveCapacity(config.nLayer)
        for i in 0..<config.nLayer {
            layers.append(try GPT2LayerWeights(keys.layer(i, config), read))
        }
        let lnfWeight = try read(keys.lnfWeight(config))
        let lnfBias = try read(keys.lnfBias(config))
        let lmHead = untiedHead ? try read(keys.lmHead(config)) : wte

        let dtype = checkpoint.info(keys.wte(config).key)?.dtype.torchName ?? "float32"
        let source = (checkpoint as? ShardedSafeTensors)?.indexURL.path ?? checkpoint.filePath(for: keys.wte(config).key)
        return GPT2Weights(
            config: config, wte: wte, wpe: wpe, layers: layers, lnfWeight: lnfWeight, lnfBias: lnfBias,
            lmHead: lmHead, dtype: dtype, isZeroCopy: zeroCopy, source: source, owners: Array(owners.values))
    }

    /// Deterministic made-up weights (for benchmarks and tests): every weight and bias uniform with
    /// mean 0 and standard deviation `std`, LayerNorm gains 1 + that; the same seed gives the same
    /// weights. An untied config gets its own lm_head.
    public static func random(config: GPT2Config, seed: UInt64, std: Float = 0.02) -> GPT2Weights {
        let c = max(0, config.nEmbd), v = max(0, config.vocabSize), p = max(0, config.nPositions)
        let buffer = FloatBuffer(count: max(0, config.parameterCount))
        var rng = SeededGenerator(seed: seed)
        // Uniform on [-a, a] has standard deviation a/√3.
        let amplitude = std * Float(3).squareRoot()
        var offset = 0
        func make(_ spec: WeightSpec) -> WeightTensor {
            let count = spec.shape.reduce(1, *)
            let start = buffer.pointer + min(offset, buffer.count)
            let isGain = spec.key.hasSuffix("ln_1.weight") || spec.key.hasSuffix("ln_2.weight") || spec.key.hasSuffix("ln_f.weight")
            let base: Float = isGain ? 1 : 0
            for i in 0..<min(count, buffer.count - offset) {
                start[i] = base + amplitude * rng.nextSymmetricUnit()
            }
            offset += count
            return WeightTensor(key: spec.key, shape: spec.shape, pointer: UnsafePointer(start))
        }
        let keys = CheckpointKeys.prefixed
        let wte = make(WeightSpec(key: keys.wte(config).key, shape: [v, c]))
        let wpe = make(WeightSpec(key: keys.wpe(config).key, shape: [p, c]))
        let layers = (0..<max(0, config.nLayer)).map { GPT2LayerWeights(keys.layer($0, config), make) }
        let lnfWeight = make(keys.lnfWeight(config))
        let lnfBias = make(keys.lnfBias(config))
        let lmHead = config.tieWordEmbeddings ? wte : make(keys.lmHead(config))
        return GPT2Weights(
            config: config, wte: wte, wpe: wpe, layers: layers, lnfWeight: lnfWeight, lnfBias: lnfBias,
            lmHead: lmHead, dtype: "float32", isZeroCopy: false, source: "random", owners: [buffer])
    }
}
