import Foundation
import GPT2
import LMKernels
import LMTokenizer

/// Options fixed when the engine loads.
public struct EngineOptions: Sendable {
    /// Threads the kernels may use.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Defaults: every core.
    public init() {}
}

/// A loaded model and its tokenizer: everything the notebook did, as methods. Safe to share between
/// threads; compute is serialised (the kernels already use every core).
public final class Engine: @unchecked Sendable {
    /// What the model is.
    public let info: ModelInfo
    /// The model.
    public let model: GPT2Model
    /// The tokenizer.
    public let tokenizer: GPT2Tokenizer

    private let computeLock = NSLock()

    /// Loads a Hugging Face model folder (config.json, model.safetensors, tokenizer files).
    public static func load(modelDirectory: URL, options: EngineOptions = EngineOptions()) throws -> Engine {
        let config = try GPT2Config.load(from: modelDirectory.appendingPathComponent("config.json"))
        let weights = try GPT2Weights.load(directory: modelDirectory, config: config)
        let tokenizer = try GPT2Tokenizer.load(directory: modelDirectory)
        return try Engine(
            weights: weights, tokenizer: tokenizer, name: modelDirectory.standardizedFileURL.lastPathComponent,
            options: options)
    }

    /// An engine over weights and a tokenizer already in memory (tests, benchmarks).
    public init(weights: GPT2Weights, tokenizer: GPT2Tokenizer, name: String, options: EngineOptions = EngineOptions()) throws {
        let config = weights.config
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw EngineError.invalidArgument(
                name: "tokenizer",
                reason: "has \(tokenizer.vocabularySize) tokens but the model's vocabulary is \(config.vocabSize)")
        }
        self.model = GPT2Model(weights: weights, kernels: Kernels(threads: options.threads))
        self.tokenizer = tokenizer
        self.info = ModelInfo(
            model: name, vocabSize: config.vocabSize, nPositions: config.nPositions, nEmbd: config.nEmbd,
            nLayer: config.nLayer, nHead: config.nHead, dtype: weights.dtype, eosTokenId: tokenizer.endOfTextId)
    }

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
        let values = try computeWithModel { model in
            try model.forward(context, cache: model.makeCache(capacity: context.count),
                              logits: positions == .all ? .all : .last, isCancelled: { cancel?.isCancelled ?? false })
        }
        return Logits(ids: context, rows: positions == .all ? context.count : 1, vocabSize: info.vocabSize, values: values)
    }

    /// The k most likely next tokens after `ids` (empty: after end-of-text; too long: the most recent that fit).
    public func topK(ids: [Int], k: Int, cancel: CancellationFlag? = nil) throws -> TopK {
        guard k >= 1, k <= info.vocabSize else {
            throw EngineError.invalidArgument(name: "k", reason: "must be between 1 and the vocabulary size \(info.vocabSize)")
        }
        let (context, truncated) = try fitContext(ids, room: 0)
        let logits = try computeWithModel { model in
            try model.forward(context, cache: model.makeCache(capacity: context.count), logits: .last,
                              isCancelled: { cancel?.isCancelled ?? false })
        }
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
        let room = min(options.maxTokens, info.nPositions - 1)
        let (context, truncated) = try fitContext(ids, room: room)
        var stream = TextStream(stops: options.stop)
        var newIds: [Int] = [], tokens: [GeneratedToken] = []
        var finish = FinishReason.length

        let isCancelled = { cancel?.isCancelled ?? false }
        try computeWithModel { model in
            let cache = model.makeCache(capacity: min(info.nPositions, context.count + options.maxTokens))
            var fed = context
            while newIds.count < options.maxTokens {
                let logits: [Float]
                do {
                    logits = try model.forward(fed, cache: cache, logits: .last, isCancelled: isCancelled)
                } catch GPT2ForwardError.cancelled {
                    finish = .cancelled; return
                }
                if isCancelled() { finish = .cancelled; return }
                var token = logits.withUnsafeBufferPointer { row -> GeneratedToken in
                    describe(sampler.choose(row), in: row, alternatives: options.logprobs)
                }
                if token.id == info.eosTokenId && options.stopAtEndOfText { finish = .eos; return }
                token.textDelta = stream.append(tokenizer.tokenBytes(token.id) ?? [])
                if stream.stopIndex != nil {
                    // The token that completes a stop string counts only if some of its text came before it.
                    finish = .stop
                    if stream.tokensBeforeStop == newIds.count { return }
                }
                newIds.append(token.id)
                tokens.append(token)
                let last = finish == .stop || newIds.count == options.maxTokens || cache.count >= cache.capacity
                if last { token.textDelta += stream.finish() }
                onToken(token)
                if last { return }
                fed = [token.id]
            }
        }
        // Text held back (an unfinished character, or what might have begun a stop string) is released
        // without a token when generation ends otherwise.
        let tail = stream.finish()
        if !tail.isEmpty { onToken(GeneratedToken(id: -1, logprob: 0, top: [], textDelta: tail)) }
        return Generation(
            contextIds: context, ids: newIds, text: stream.text, finishReason: finish,
            tokens: options.logprobs > 0 ? tokens : [], truncated: truncated)
    }

    // MARK: Helpers

    /// The chosen token's log-probability and the best `alternatives` others, before temperature.
    private func describe(_ id: Int, in row: UnsafeBufferPointer<Float>, alternatives: Int) -> GeneratedToken {
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
        for id in ids where id < 0 || id >= min(info.vocabSize, tokenizer.vocabularySize) {
            throw EngineError.invalidTokenId(id, vocabSize: min(info.vocabSize, tokenizer.vocabularySize))
        }
    }

    /// Runs model work under the compute lock, mapping the model's errors to the engine's.
    func computeWithModel<R>(_ body: (GPT2Model) throws -> R) throws -> R {
        computeLock.lock()
        defer { computeLock.unlock() }
        do {
            return try body(model)
        } catch let error as GPT2ForwardError {
            switch error {
            case .cancelled: throw EngineError.cancelled
            case let .contextTooLong(length, limit): throw EngineError.contextTooLong(length: length, limit: limit)
            case let .invalidTokenId(id, vocabSize): throw EngineError.invalidTokenId(id, vocabSize: vocabSize)
            }
        }
    }
}
