import Foundation

/// Options fixed when the engine loads.
public struct EngineOptions: Sendable {
    /// Threads the kernels may use.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Defaults: every core.
    public init() {}
}

/// A loaded model and its tokenizer: everything the notebook did, as methods. Safe to share between threads.
public final class Engine: @unchecked Sendable {
    /// What the model is.
    public let info: ModelInfo

    /// Loads a Hugging Face model folder (config.json, model.safetensors, tokenizer files).
    public static func load(modelDirectory: URL, options: EngineOptions = EngineOptions()) throws -> Engine {
        fatalError("not yet")
    }

    private init(info: ModelInfo) { self.info = info }

    /// Tokens of `text` with their byte offsets.
    public func tokenize(_ text: String, addPrefixSpace: Bool) -> [TokenSpan] { fatalError("not yet") }

    /// Token ids of `text`.
    public func encode(_ text: String, addPrefixSpace: Bool) -> [Int] { fatalError("not yet") }

    /// Text of ids decoded together (invalid UTF-8 becomes U+FFFD).
    public func decode(_ ids: [Int]) throws -> String { fatalError("not yet") }

    /// One id decoded alone.
    public func tokenText(_ id: Int) throws -> String { fatalError("not yet") }

    /// Logits for `ids` (empty input: the end-of-text token alone). Throws `contextTooLong` past `n_positions`.
    public func forward(ids: [Int], positions: LogitPositions, cancel: CancellationFlag? = nil) throws -> Logits {
        fatalError("not yet")
    }

    /// The k most likely next tokens after `ids` (empty: after end-of-text; too long: the most recent that fit).
    public func topK(ids: [Int], k: Int, cancel: CancellationFlag? = nil) throws -> TopK { fatalError("not yet") }

    /// Generates up to `options.maxTokens` tokens after `ids`, reporting each through `onToken` as it is made.
    public func generate(
        ids: [Int], options: GenerationOptions, cancel: CancellationFlag? = nil,
        onToken: (GeneratedToken) -> Void = { _ in }
    ) throws -> Generation {
        fatalError("not yet")
    }
}
