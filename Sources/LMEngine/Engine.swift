import Foundation
import GPT2
import LMKernels
import LMTokenizer

/// Options fixed when the engine loads.
public struct EngineOptions: Sendable {
    /// Threads the kernels may use.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Memory for KV caches of recent sequences, reused across requests sharing a prefix (0: no reuse).
    public var prefixCacheBytes: Int = 512 << 20
    /// New tokens one batched step may stack (a longer prompt still runs, alone).
    public var maxRowsPerStep: Int = 1024
    /// The precision to compute from: the matrices are converted at load (`GPT2Weights.converted(to:)`).
    /// Nil keeps the checkpoint's own precision, exactly: float32 as loaded, and a float16 or bfloat16
    /// checkpoint's matrices in that precision (`GPT2Weights.exactlyNarrowed()`: the same values, so the
    /// same results, with half the bytes per token). `WeightPrecision(name:)` parses "f16" and the like.
    public var precision: WeightPrecision? = nil
    /// Defaults: every core, 512 MiB of prefix cache, the checkpoint's precision.
    public init() {}

    /// The precision a flag value names ("f32", "f16", "bf16", "q8_0", or the dtype names "float16"
    /// etc.; case-insensitive), nil for anything else — so that a caller need not import GPT2.
    public static func precision(named name: String) -> WeightPrecision? { WeightPrecision(name: name) }
    /// The flag values `precision(named:)` documents, one per precision: f32, f16, bf16, q8_0.
    public static let precisionNames = WeightPrecision.names
}

/// A loaded model and its tokenizer: everything the notebook did, as methods. Safe to call from many
/// threads at once: concurrent requests are batched into shared forward passes.
public final class Engine: @unchecked Sendable {
    /// What the model is.
    public let info: ModelInfo
    /// The model.
    public let model: GPT2Model
    /// The tokenizer.
    public let tokenizer: GPT2Tokenizer

    let scheduler: BatchScheduler
    let prefixCache: PrefixCache

    /// Loads a Hugging Face model folder (config.json, model.safetensors, tokenizer files), or a GGUF
    /// file (llama.cpp's format: weights and tokenizer in one file).
    /// `name` is what `info` reports (default: the folder's or file's name).
    public static func load(modelDirectory: URL, name: String? = nil, options: EngineOptions = EngineOptions()) throws -> Engine {
        if modelDirectory.pathExtension.lowercased() == "gguf" {
            let checkpoint = try GGUFCheckpoint.load(modelDirectory)
            let t = checkpoint.tokenizer
            let tokenizer = try GPT2Tokenizer(
                tokens: t.tokens, merges: t.merges, specialTokenIds: t.specialTokenIds,
                userDefinedTokenIds: t.userDefinedTokenIds, source: t.source,
                tokensField: GGUFTokenizerTables.tokensField, mergesField: GGUFTokenizerTables.mergesField)
            return try Engine(
                weights: checkpoint.weights, tokenizer: tokenizer,
                name: name ?? modelDirectory.deletingPathExtension().lastPathComponent, options: options)
        }
        let config = try GPT2Config.load(from: modelDirectory.appendingPathComponent("config.json"))
        let weights = try GPT2Weights.load(directory: modelDirectory, config: config)
        let tokenizer = try GPT2Tokenizer.load(directory: modelDirectory)
        return try Engine(
            weights: weights, tokenizer: tokenizer, name: name ?? modelDirectory.standardizedFileURL.lastPathComponent,
            options: options)
    }

    /// An engine over weights and a tokenizer already in memory (tests, benchmarks).
    public init(weights: GPT2Weights, tokenizer: GPT2Tokenizer, name: String, options: EngineOptions = EngineOptions()) throws {
        let weights = options.precision.map { weights.converted(to: $0) } ?? weights.exactlyNarrowed() ?? weights
        let config = weights.config
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw EngineError.invalidArgument(
                name: "tokenizer",
                reason: "has \(tokenizer.vocabularySize) tokens but the model's vocabulary is \(config.vocabSize)")
        }
        let model = GPT2Model(weights: weights, kernels: Kernels(threads: options.threads))
        self.model = model
        self.tokenizer = tokenizer
        self.info = ModelInfo(
            model: name, vocabSize: config.vocabSize, nPositions: config.nPositions, nEmbd: config.nEmbd,
            nLayer: config.nLayer, nHead: config.nHead, dtype: weights.dtype, eosTokenId: tokenizer.endOfTextId)
        self.scheduler = BatchScheduler(model: model, maxRowsPerStep: options.maxRowsPerStep)
        self.prefixCache = PrefixCache(maxBytes: options.prefixCacheBytes) { model.makeCache() }
    }

    deinit { scheduler.stop() }

    // MARK: Text

    /// Tokens of `text` with their byte offsets.
    public func tokenize(_ text: String, addPrefixSpace: Bool) -> [TokenSpan] {
        tokenizer.encodeWithOffsets(text, addPrefixSpace: addPrefixSpace).map {
            TokenSpan(id: $0.id, text: (try? tokenizer.decode([$0.id])) ?? "", start: $0.start, end: $0.end)
        }
    }

    /// Token ids of `text`.
    public func encode(_ text: String, addPrefixSpace: Bool) -> [Int] {
        tokenizer.encode(text, addPrefixSpace: addPrefixSpace)
    }

    /// Text of ids decoded together (invalid UTF-8 becomes U+FFFD).
    public func decode(_ ids: [Int]) throws -> String {
        try validate(ids)
        return try tokenizer.decode(ids)
    }

    /// One id decoded alone.
    public func tokenText(_ id: Int) throws -> String { try decode([id]) }

    // MARK: Model

    /// Logits for `ids` (empty input: the end-of-text token alone). Throws `contextTooLong` past `n_positions`.
    public func forward(ids: [Int], positions: LogitPositions, cancel: CancellationFlag? = nil) throws -> Logits {
        let context = ids.isEmpty ? [info.eosTokenId] : ids
        try validate(context)
        guard context.count <= info.nPositions else {
            throw EngineError.contextTooLong(length: context.count, limit: info.nPositions)
        }
        var values: [Float] = []
        if positions == .all {
            // Every row is wanted, so nothing cached can be skipped.
            try scheduler.run([SequenceJob(cache: model.makeCache(capacity: context.count), feed: context, rows: .all, cancel: cancel) {
                values = $0; return nil
            }])
        } else {
            values = try lastLogits(context, cancel: cancel)
        }
        return Logits(ids: context, rows: positions == .all ? context.count : 1, vocabSize: info.vocabSize, values: values)
    }

    /// The k most likely next tokens after `ids` (empty: after end-of-text; too long: the most recent that fit).
    public func topK(ids: [Int], k: Int, cancel: CancellationFlag? = nil) throws -> TopK {
        guard k >= 1, k <= info.vocabSize else {
            throw EngineError.invalidArgument(name: "k", reason: "must be between 1 and the vocabulary size \(info.vocabSize)")
        }
        let (context, truncated) = try fitContext(ids, room: 0)
        let logits = try lastLogits(context, cancel: cancel)
        return try logits.withUnsafeBufferPointer { row in
            let top = TokenRanking.top(row, k: k)
            let lse = TokenRanking.logSumExp(row)
            return TopK(
                contextIds: context, ids: top, tokens: try top.map { try tokenizer.decode([$0]) },
                logits: top.map { row[$0] }, probs: top.map { Float(Foundation.exp(Double(row[$0]) - lse)) },
                text: try tokenizer.decode(top), truncated: truncated)
        }
    }

    /// Generates up to `options.maxTokens` tokens after `ids`, reporting each through `onToken` as it is made.
    public func generate(
        ids: [Int], options: GenerationOptions, cancel: CancellationFlag? = nil,
        onToken: (GeneratedToken) -> Void = { _ in }
    ) throws -> Generation {
        guard options.maxTokens >= 0 else { throw EngineError.invalidArgument(name: "max_tokens", reason: "must be ≥ 0") }
        guard (0...20).contains(options.logprobs) else {
            throw EngineError.invalidArgument(name: "logprobs", reason: "must be between 0 and 20")
        }
        var sampler = try Sampler(options: options)
        // The prompt keeps room for the new tokens, but never less than half the context; generation
        // ends ("length") when prompt and new tokens fill the context.
        let room = min(options.maxTokens, info.nPositions / 2)
        let (context, truncated) = try fitContext(ids, room: room)
        var stream = TextStream(stops: options.stop)
        var newIds: [Int] = [], tokens: [GeneratedToken] = []
        var finish = FinishReason.length
        guard options.maxTokens > 0 else {
            return Generation(contextIds: context, ids: [], text: "", finishReason: .length, tokens: [], truncated: truncated)
        }

        // One step per token: choose from the logits, report it, and feed it back unless it is the last.
        let eos = info.eosTokenId
        try withoutActuallyEscaping(onToken) { onToken in
            let cache = prefixCache.checkout(for: context)
            defer { prefixCache.checkin(cache) }
            let job = SequenceJob(cache: cache, feed: Array(context[cache.count...]), rows: .last, cancel: cancel) { logits in
                var token = logits.withUnsafeBufferPointer { row -> GeneratedToken in
                    self.describe(sampler.choose(row), in: row, alternatives: options.logprobs)
                }
                if token.id == eos && options.stopAtEndOfText { finish = .eos; return nil }
                token.textDelta = stream.append(self.tokenizer.tokenBytes(token.id) ?? [])
                if stream.stopIndex != nil {
                    // The token that completes a stop string counts only if some of its text came before it.
                    finish = .stop
                    if stream.tokensBeforeStop == newIds.count { return nil }
                }
                newIds.append(token.id)
                tokens.append(token)
                let last = finish == .stop || newIds.count == options.maxTokens || cache.count + 1 >= cache.capacity
                if last { token.textDelta += stream.finish() }
                onToken(token)
                return last ? nil : [token.id]
            }
            do {
                try scheduler.run([job])
            } catch EngineError.cancelled {
                finish = .cancelled
            }
        }
        if cancel?.isCancelled == true, finish == .length, newIds.count < options.maxTokens { finish = .cancelled }
        // Text held back (an unfinished character, or what might have begun a stop string) is released
        // without a token when generation ends otherwise.
        let tail = stream.finish()
        if !tail.isEmpty { onToken(GeneratedToken(id: -1, logprob: 0, top: [], textDelta: tail)) }
        return Generation(
            contextIds: context, ids: newIds, text: stream.text, finishReason: finish,
            tokens: options.logprobs > 0 ? tokens : [], truncated: truncated)
    }

    // MARK: Helpers

    /// The last position's logits after `context`, reusing the longest cached prefix.
    func lastLogits(_ context: [Int], cancel: CancellationFlag?) throws -> [Float] {
        if cancel?.isCancelled == true { throw EngineError.cancelled }
        // The same context again: its logits are kept with its cache.
        if let (cache, logits) = prefixCache.checkoutExact(context) {
            prefixCache.checkin(cache, lastLogits: logits)
            return logits
        }
        let cache = prefixCache.checkout(for: context)
        var values: [Float] = []
        do {
            try scheduler.run([SequenceJob(cache: cache, feed: Array(context[cache.count...]), rows: .last, cancel: cancel) {
                values = $0; return nil
            }])
        } catch {
            prefixCache.checkin(cache)
            throw error
        }
        prefixCache.checkin(cache, lastLogits: values)
        return values
    }

    /// The chosen token's log-probability and the best `alternatives` others, before temperature.
    func describe(_ id: Int, in row: UnsafeBufferPointer<Float>, alternatives: Int) -> GeneratedToken {
        let lse = TokenRanking.logSumExp(row)
        let top = TokenRanking.top(row, k: alternatives).map {
            TokenLogprob(id: $0, token: (try? tokenizer.decode([$0])) ?? "", logprob: Float(Double(row[$0]) - lse))
        }
        return GeneratedToken(id: id, logprob: Float(Double(row[id]) - lse), top: top, textDelta: "")
    }

    /// The most recent ids that leave `room` positions free (at least one id), and whether any were cut.
    func fitContext(_ ids: [Int], room: Int) throws -> ([Int], Bool) {
        let context = ids.isEmpty ? [info.eosTokenId] : ids
        try validate(context)
        let limit = max(1, info.nPositions - room)
        return context.count > limit ? (Array(context.suffix(limit)), true) : (context, false)
    }

    private func validate(_ ids: [Int]) throws {
        let size = min(info.vocabSize, tokenizer.vocabularySize)
        for id in ids where id < 0 || id >= size { throw EngineError.invalidTokenId(id, vocabSize: size) }
    }

    /// The model's errors as the engine's.
    static func mapModelError(_ error: Error) -> Error {
        guard let error = error as? GPT2ForwardError else { return error }
        switch error {
        case .cancelled: return EngineError.cancelled
        case let .contextTooLong(length, limit): return EngineError.contextTooLong(length: length, limit: limit)
        case let .invalidTokenId(id, vocabSize): return EngineError.invalidTokenId(id, vocabSize: vocabSize)
        }
    }
}
