import Foundation

/// Which positions' logits a forward pass returns.
public enum LogitPositions: String, Sendable {
    /// Every position of the input: [T, V].
    case all
    /// Only the last position: [1, V].
    case last
}

/// One token of tokenized text with its place in the input.
public struct TokenSpan: Sendable, Equatable {
    /// The token id.
    public var id: Int
    /// The token decoded alone (bytes that are not valid UTF-8 on their own become U+FFFD).
    public var text: String
    /// [start, end) UTF-8 byte offsets into the input text.
    public var start: Int
    /// End of the byte range (exclusive).
    public var end: Int

    /// A span.
    public init(id: Int, text: String, start: Int, end: Int) {
        self.id = id; self.text = text; self.start = start; self.end = end
    }
}

/// What the model is, as `info` reports it.
public struct ModelInfo: Sendable, Equatable {
    /// The model's name (its folder's name, or the hub id it was loaded as).
    public var model: String
    /// Vocabulary size V.
    public var vocabSize: Int
    /// Context limit (`n_positions`).
    public var nPositions: Int
    /// Width (`n_embd`).
    public var nEmbd: Int
    /// Number of blocks.
    public var nLayer: Int
    /// Number of attention heads.
    public var nHead: Int
    /// The weights' dtype as computed with ("float32", …).
    public var dtype: String
    /// The end-of-text token id.
    public var eosTokenId: Int
}

/// Logits of a forward pass: `rows × vocabSize` floats, row-major.
public struct Logits: Sendable {
    /// The ids the pass ran on (after empty-input handling).
    public var ids: [Int]
    /// Number of rows (T for `.all`, 1 for `.last`).
    public var rows: Int
    /// Row length V.
    public var vocabSize: Int
    /// rows × vocabSize values.
    public var values: [Float]
}

/// The k most likely next tokens after a context.
public struct TopK: Sendable {
    /// The context ids used (the most recent ones that fit).
    public var contextIds: [Int]
    /// Token ids, most likely first.
    public var ids: [Int]
    /// Each id decoded alone.
    public var tokens: [String]
    /// Raw logits of those ids.
    public var logits: [Float]
    /// Softmax probabilities over the whole vocabulary.
    public var probs: [Float]
    /// The k tokens decoded together.
    public var text: String
    /// True when the context was cut to fit `n_positions`.
    public var truncated: Bool
}

/// How `generate` picks tokens.
public struct GenerationOptions: Sendable {
    /// How many new tokens at most.
    public var maxTokens: Int = 16
    /// 0 is greedy; otherwise logits are divided by it before sampling.
    public var temperature: Float = 0
    /// Sample only among the k most likely tokens (nil or 0: no limit).
    public var topK: Int? = nil
    /// Sample only within the smallest set whose probability reaches p (nil: no limit).
    public var topP: Float? = nil
    /// Seed for sampling; the same seed gives the same tokens. Nil: a random seed.
    public var seed: UInt64? = nil
    /// Stop before any of these strings would appear in the new text.
    public var stop: [String] = []
    /// Stop at the end-of-text token (it is not included in the output).
    public var stopAtEndOfText: Bool = true
    /// How many alternatives to report per new token (0–20).
    public var logprobs: Int = 0

    /// Default options: 16 greedy tokens, stopping at end-of-text.
    public init() {}
}

/// Why generation ended.
public enum FinishReason: String, Sendable {
    /// `maxTokens` reached, or the context limit.
    case length
    /// A stop string was met.
    case stop
    /// The end-of-text token was produced.
    case eos
    /// The caller cancelled.
    case cancelled
}

/// One alternative at a generated position.
public struct TokenLogprob: Sendable, Equatable {
    /// The token id.
    public var id: Int
    /// The token decoded alone.
    public var token: String
    /// Its log-probability (natural log, over the whole vocabulary, before temperature).
    public var logprob: Float
}

/// One generated token, as reported while generating.
public struct GeneratedToken: Sendable {
    /// The chosen id.
    public var id: Int
    /// Its log-probability.
    public var logprob: Float
    /// The most likely alternatives (as many as `logprobs` asked for).
    public var top: [TokenLogprob]
    /// Text newly completed by this token: never ends inside a UTF-8 character (bytes wait for the next token).
    public var textDelta: String
}

/// The outcome of `generate`.
public struct Generation: Sendable {
    /// The context ids used.
    public var contextIds: [Int]
    /// The new ids (without a final end-of-text token or a stop string's tokens).
    public var ids: [Int]
    /// The new text.
    public var text: String
    /// Why it ended.
    public var finishReason: FinishReason
    /// One entry per new id when logprobs were asked for.
    public var tokens: [GeneratedToken]
    /// True when the context was cut to fit.
    public var truncated: Bool
}

/// A flag a caller sets to stop work in flight; the engine checks it between tokens and layers.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    /// A flag that is not set.
    public init() {}

    /// Asks the work to stop.
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }

    /// Whether `cancel()` was called.
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}
