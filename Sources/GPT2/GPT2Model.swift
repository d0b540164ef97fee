import LMKernels

/// Which rows of logits a forward pass computes: the head is the most expensive matmul, so a caller
/// that only wants the next token asks for the last row alone.
public enum LogitRows: Sendable, Equatable {
    /// One row per input token.
    case all
    /// Only the last input token's row.
    case last
    /// No logits (the pass only fills the KV cache).
    case none
}

/// One sequence's part of a batched forward pass: its new tokens, its cache, the logits it wants.
public struct SequenceStep {
    /// Tokens to run, at positions `cache.count ..< cache.count + tokens.count`.
    public var tokens: [Int]
    /// The sequence's cache; it grows by `tokens.count`. A cache appears once per batch.
    public var cache: KVCache
    /// Which of its rows' logits to return.
    public var logits: LogitRows

    /// A step.
    public init(tokens: [Int], cache: KVCache, logits: LogitRows) {
        self.tokens = tokens; self.cache = cache; self.logits = logits
    }
}

/// What a forward pass refuses.
public enum GPT2ForwardError: Error, Equatable, CustomStringConvertible {
    /// Cache plus new tokens exceed the context (`n_positions`, or the cache's capacity).
    case contextTooLong(length: Int, limit: Int)
    /// A token id outside 0 ..< vocab_size.
    case invalidTokenId(Int, vocabSize: Int)
    /// The caller's cancellation check returned true between layers.
    case cancelled

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case let .contextTooLong(length, limit): return "\(length) positions exceed the context limit of \(limit)"
        case let .invalidTokenId(id, vocabSize): return "token id \(id) is outside the vocabulary (0..<\(vocabSize))"
        case .cancelled: return "cancelled"
        }
    }
}

/// GPT-2: token and position embeddings, `nLayer` pre-norm blocks (causal self-attention and an MLP, each
/// added back to the residual stream), a final layer norm and the head. Read it top to bottom in `forward`.
///
/// Not reentrant: one `forward` at a time per instance (the scratch buffers are the instance's).
public final class GPT2Model: @unchecked Sendable {
    /// The architecture.
    public let config: GPT2Config
    /// The loaded weights, laid out for the kernels (`GPT2Weights.laidOutForKernels()`).
    public let weights: GPT2Weights
    /// The kernels the pass runs on.
    public let kernels: Kernels

    private let scratch = Scratch()

    /// A model over loaded weights (float32 matrices are re-laid for the kernels: same values).
    public init(weights: GPT2Weights, kernels: Kernels = Kernels()) {
        self.config = weights.config
        self.weights = weights.laidOutForKernels()
        self.kernels = kernels
    }

    /// An empty KV cache for this model.
    public func makeCache(capacity: Int? = nil) -> KVCache { KVCache(config: config, capacity: capacity) }

    /// Runs `tokens` at positions `cache.count ..< cache.count + T`, appending their keys and values to
    /// `cache`, and returns the requested logits: [rows, V] row-major.
    ///
    /// `isCancelled` is asked between layers; when it answers true the pass stops with `.cancelled` and
    /// the cache keeps only what it had before the call.
    public func forward(
        _ tokens: [Int], cache: KVCache, logits rows: LogitRows = .last,
        isCancelled: () -> Bool = { false }
    ) throws -> [Float] {
        try forward(batch: [SequenceStep(tokens: tokens, cache: cache, logits: rows)], isCancelled: isCancelled)[0]
    }

    /// Runs several sequences' new tokens in one pass: their rows are stacked so that every matmul reads
    /// the weights once for all of them; only attention is per sequence. Returns each one's logits.
    public func forward(batch: [SequenceStep], isCancelled: () -> Bool = { false }) throws -> [[Float]] {
        let c = config.nEmbd, v = config.vocabSize, inner = config.nInner
        var offsets: [Int] = []  // first stacked row of each sequence
        var t = 0                // stacked rows in all
        for (s, step) in batch.enumerated() {
            let limit = min(step.cache.capacity, config.nPositions)
            let length = step.cache.count + step.tokens.count
            guard length <= limit else { throw GPT2ForwardError.contextTooLong(length: length, limit: limit) }
            for id in step.tokens where id < 0 || id >= v { throw GPT2ForwardError.invalidTokenId(id, vocabSize: v) }
            precondition(!batch[..<s].contains { $0.cache === step.cache }, "a cache may appear once per batch")
            offsets.append(t)
            t += step.tokens.count
        }
        guard t > 0 else { return batch.map { _ in [] } }

        scratch.reserve(tokens: t, width: c, inner: inner)
        let x = scratch.x, xn = scratch.xn, qkv = scratch.qkv, att = scratch.att, tmp = scratch.tmp, h = scratch.h
        let k = kernels

        // x[T, C] = wte[token] + wpe[position] (the token's row widened first when wte is stored narrower)
        for (s, step) in batch.enumerated() {
            for (i, id) in step.tokens.enumerated() {
                let p = weights.wpe.pointer + (step.cache.count + i) * c
                let row = x + (offsets[s] + i) * c
                weights.wte.copyRow(id, into: row)
                for j in 0..<c { row[j] = row[j] + p[j] }
            }
        }

        for (l, layer) in weights.layers.enumerated() {
            if isCancelled() { throw GPT2ForwardError.cancelled }
            // Attention: xn = ln_1(x); qkv[T, 3C] = xn · c_attn; keys and values go to each cache.
            k.layerNorm(xn, x, gamma: layer.ln1Weight.pointer, beta: layer.ln1Bias.pointer, rows: t, n: c, eps: config.layerNormEpsilon)
            k.matmul(qkv, xn, layer.attnWeight, bias: layer.attnBias.pointer, m: t, k: c, n: 3 * c)
            for (s, step) in batch.enumerated() where !step.tokens.isEmpty {
                let past = step.cache.count, n = step.tokens.count
                let keys = step.cache.keys[l], values = step.cache.values[l]
                let q = qkv + offsets[s] * 3 * c
                for i in 0..<n {
                    step.cache.store(layer: l, position: past + i, keys: q + i * 3 * c + c, values: q + i * 3 * c + 2 * c)
                }
                k.attention(
                    att + offsets[s] * c, q: q, qStride: 3 * c, keys: keys, values: values,
                    kvStride: config.headDim, kvHeadStride: step.cache.headStride,
                    t: n, past: past, nHead: config.nHead, headDim: config.headDim, scale: attentionScale(layer: l))
            }
            // x += att · c_proj
            k.matmul(tmp, att, layer.attnProjWeight, bias: layer.attnProjBias.pointer, m: t, k: c, n: c)
            k.add(x, tmp, count: t * c)

            // MLP: x += act(ln_2(x) · c_fc) · c_proj
            k.layerNorm(xn, x, gamma: layer.ln2Weight.pointer, beta: layer.ln2Bias.pointer, rows: t, n: c, eps: config.layerNormEpsilon)
            k.matmul(h, xn, layer.fcWeight, bias: layer.fcBias.pointer, m: t, k: c, n: inner)
            k.activate(h, count: t * inner, config.activation)
            k.matmul(tmp, h, layer.mlpProjWeight, bias: layer.mlpProjBias.pointer, m: t, k: inner, n: c)
            k.add(x, tmp, count: t * c)
        }
        if isCancelled() { throw GPT2ForwardError.cancelled }
        for step in batch {
            step.cache.count += step.tokens.count
            step.cache.tokens.append(contentsOf: step.tokens)
        }

        // ln_f and the head, only for the rows asked for: gathered into xn, one matmul for all.
        var headRows: [(first: Int, count: Int)] = []
        var gathered = 0
        for (s, step) in batch.enumerated() {
            let n = step.tokens.count
            let (first, count): (Int, Int) = switch step.logits {
            case .none: (0, 0)
            case .all: (offsets[s], n)
            case .last: n > 0 ? (offsets[s] + n - 1, 1) : (0, 0)
            }
            k.layerNorm(xn + gathered * c, x + first * c, gamma: weights.lnfWeight.pointer, beta: weights.lnfBias.pointer,
                        rows: count, n: c, eps: config.layerNormEpsilon)
            headRows.append((gathered, count))
            gathered += count
        }
        // The returned rows are the pass's one allocation; the head writes every element, so they are
        // not zeroed first.
        let logits = [Float](unsafeUninitializedCapacity: gathered * v) { o, count in
            if gathered > 0 {
                k.matmulTransposed(o.baseAddress!, xn, weights.lmHead, bias: nil, m: gathered, k: c, n: v)
            }
            count = gathered * v
        }
        // One sequence (the usual case): its rows are all there is, no copy needed.
        if headRows.count == 1 { return [logits] }
        return headRows.map { Array(logits[($0.first * v)..<(($0.first + $0.count) * v)]) }
    }

    /// 1/√headDim (when `scale_attn_weights`), further divided by the layer's number when
    /// `scale_attn_by_inverse_layer_idx` asks for it (as HF does: layer_idx + 1).
    func attentionScale(layer: Int) -> Float {
        var s: Float = config.scaleAttnWeights ? 1 / Float(config.headDim).squareRoot() : 1
        if config.scaleAttnByInverseLayerIdx { s /= Float(layer + 1) }
        return s
    }
}

/// Grow-only activation buffers, so that decoding a token allocates nothing.
private final class Scratch {
    var capacity = 0, width = 0, inner = 0
    var x = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, C] residual stream
    var xn = UnsafeMutablePointer<Float>.allocate(capacity: 1)   // [T, C] normalised
    var qkv = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [T, 3C]
    var att = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [T, C] attention output
    var tmp = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [T, C] projection output
    var h = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, I] MLP hidden

    deinit { for p in [x, xn, qkv, att, tmp, h] { p.deallocate() } }

    func reserve(tokens t: Int, width c: Int, inner i: Int) {
        guard t > capacity || c != width || i != inner else { return }
        for p in [x, xn, qkv, att, tmp, h] { p.deallocate() }
        capacity = max(t, capacity); width = c; inner = i
        func make(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n); p.initialize(repeating: 0, count: n); return p
        }
        x = make(capacity * c); xn = make(capacity * c); qkv = make(capacity * 3 * c)
        att = make(capacity * c); tmp = make(capacity * c); h = make(capacity * i)
    }
}
