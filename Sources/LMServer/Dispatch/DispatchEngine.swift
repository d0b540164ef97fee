import LMEngine

/// The engine as the dispatcher uses it: `Engine` itself, or in tests a wrapper that can hold work back
/// so that queueing and cancellation are tested without depending on timing.
protocol DispatchEngine: AnyObject, Sendable {
    /// What the model is.
    var info: ModelInfo { get }
    /// Tokens of `text` with their byte offsets.
    func tokenize(_ text: String, addPrefixSpace: Bool) -> [TokenSpan]
    /// Token ids of `text`.
    func encode(_ text: String, addPrefixSpace: Bool) -> [Int]
    /// Ids decoded together.
    func decode(_ ids: [Int]) throws -> String
    /// One id decoded alone.
    func tokenText(_ id: Int) throws -> String
    /// One id's raw bytes (which may be part of a UTF-8 character).
    func tokenBytes(_ id: Int) throws -> [UInt8]
    /// Logits for `ids`.
    func forward(ids: [Int], positions: LogitPositions, cancel: CancellationFlag?) throws -> Logits
    /// The k most likely next tokens.
    func topK(ids: [Int], k: Int, cancel: CancellationFlag?) throws -> TopK
    /// Generation, token by token.
    func generate(
        ids: [Int], options: GenerationOptions, cancel: CancellationFlag?, onToken: (GeneratedToken) -> Void
    ) throws -> Generation
    /// Completions at a cursor.
    func suggest(text: String, options: SuggestionOptions, cancel: CancellationFlag?) throws -> Suggestions
}

extension Engine: DispatchEngine {
    func tokenBytes(_ id: Int) throws -> [UInt8] {
        guard let bytes = tokenizer.tokenBytes(id) else { throw EngineError.invalidTokenId(id, vocabSize: info.vocabSize) }
        return bytes
    }
}
