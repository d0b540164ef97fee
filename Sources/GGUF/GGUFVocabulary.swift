/// llama.cpp's token types (`tokenizer.ggml.token_type`).
public enum GGUFTokenType: Int, Sendable, CaseIterable {
    /// An ordinary vocabulary entry.
    case normal = 1
    /// The unknown token.
    case unknown = 2
    /// A special (control) token such as `<|endoftext|>`.
    case control = 3
    /// A token added by the user, matched in raw text.
    case userDefined = 4
    /// A slot that is not used.
    case unused = 5
    /// A byte-fallback token.
    case byte = 6
}

/// The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata, checked for consistency
/// (counts agree, ids in range); what the tokens mean is up to the tokenizer `model` names.
public struct GGUFVocabulary: Sendable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece), ….
    public let model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer's name ("gpt-2", …), if given.
    public let preTokenizer: String?
    /// `tokenizer.ggml.tokens`: token `i`'s text (for byte-level BPE, in its byte-to-unicode form).
    public let tokens: [String]
    /// `tokenizer.ggml.token_type`, one per token, or nil when the file has none.
    public let tokenTypes: [GGUFTokenType]?
    /// `tokenizer.ggml.merges`: BPE merges "left right" in rank order (empty when absent).
    public let merges: [String]
    /// `tokenizer.ggml.bos_token_id`, if given.
    public let bosTokenId: Int?
    /// `tokenizer.ggml.eos_token_id`, if given.
    public let eosTokenId: Int?
    /// `tokenizer.ggml.unknown_token_id`, if given.
    public let unknownTokenId: Int?
    /// `tokenizer.ggml.padding_token_id`, if given.
    public let paddingTokenId: Int?

    /// Reads and checks the tokenizer metadata; throws `GGUFError` naming the key at fault.
    public init(metadata: GGUFMetadata) throws {
        guard let model = try metadata.string("tokenizer.ggml.model") else {
            throw metadata.missing("tokenizer.ggml.model")
        }
        guard let tokens = try metadata.stringArray("tokenizer.ggml.tokens") else {
            throw metadata.missing("tokenizer.ggml.tokens")
        }
        guard !tokens.isEmpty else { throw metadata.malformed("tokenizer.ggml.tokens", "it is empty") }
        var types: [GGUFTokenType]?
        if let raw = try metadata.intArray("tokenizer.ggml.token_type") {
            guard raw.count == tokens.count else {
                throw metadata.malformed("tokenizer.ggml.token_type", "it has \(raw.count) entries for \(tokens.count) tokens")
            }
            var list: [GGUFTokenType] = []
            list.reserveCapacity(raw.count)
            for (id, value) in raw.enumerated() {
                guard let type = GGUFTokenType(rawValue: value) else {
                    throw metadata.malformed("tokenizer.ggml.token_type", "token \(id) has type \(value), not 1...6")
                }
                list.append(type)
            }
            types = list
        }
        let ids = 0...(tokens.count - 1)
        self.model = model
        self.preTokenizer = try metadata.string("tokenizer.ggml.pre")
        self.tokens = tokens
        self.tokenTypes = types
        self.merges = try metadata.stringArray("tokenizer.ggml.merges") ?? []
        self.bosTokenId = try metadata.int("tokenizer.ggml.bos_token_id", in: ids)
        self.eosTokenId = try metadata.int("tokenizer.ggml.eos_token_id", in: ids)
        self.unknownTokenId = try metadata.int("tokenizer.ggml.unknown_token_id", in: ids)
        self.paddingTokenId = try metadata.int("tokenizer.ggml.padding_token_id", in: ids)
    }

    /// The ids whose type is `type`, ascending (empty when the file has no token types).
    public func ids(ofType type: GGUFTokenType) -> [Int] {
        guard let tokenTypes else { return [] }
        return tokenTypes.indices.filter { tokenTypes[$0] == type }
    }
}
