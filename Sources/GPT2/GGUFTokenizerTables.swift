import GGUF

/// GPT-2's byte-level BPE tokenizer as a GGUF file's `tokenizer.ggml.*` metadata holds it, checked and in
/// plain Swift types, so that a tokenizer can be built from it without knowing GGUF:
///
///     let t = checkpoint.tokenizer
///     let tokenizer = try GPT2Tokenizer(tokens: t.tokens, merges: t.merges, specialTokenIds: t.specialTokenIds,
///                                       userDefinedTokenIds: t.userDefinedTokenIds, source: t.source,
///                                       tokensField: GGUFTokenizerTables.tokensField,
///                                       mergesField: GGUFTokenizerTables.mergesField)
public struct GGUFTokenizerTables: Sendable {
    /// The metadata key of the token list, for error messages.
    public static let tokensField = "tokenizer.ggml.tokens"
    /// The metadata key of the merges, for error messages.
    public static let mergesField = "tokenizer.ggml.merges"

    /// Token `id`'s text in byte-level form ("Ġthe"), by id.
    public let tokens: [String]
    /// The merges, "left right", in rank order.
    public let merges: [String]
    /// Ids of special (CONTROL) tokens such as `<|endoftext|>`.
    public let specialTokenIds: [Int]
    /// Ids of other added (USER_DEFINED) tokens, without the "[PADn]" fillers llama.cpp's converter
    /// writes for ids the HF vocabulary lacks (HF does not match those in text).
    public let userDefinedTokenIds: [Int]
    /// `tokenizer.ggml.bos_token_id`, if given.
    public let bosTokenId: Int?
    /// `tokenizer.ggml.eos_token_id`, if given.
    public let eosTokenId: Int?
    /// The file they came from.
    public let source: String

    /// Reads and checks the tables: the tokenizer must be GPT-2's ("gpt2" model, "gpt-2" pre-tokenizer
    /// or none); throws `GGUFError` for damaged metadata, `GPT2LoadError.unsupportedConfig` otherwise.
    public init(gguf file: GGUFFile) throws {
        let vocabulary = try GGUFVocabulary(metadata: file.metadata)
        guard vocabulary.model == "gpt2" else {
            throw GPT2LoadError.unsupportedConfig(file: file.path, key: "tokenizer.ggml.model", value: "\"\(vocabulary.model)\"",
                                                  reason: "only GPT-2's byte-level BPE (\"gpt2\") is supported")
        }
        // Other BPE pre-tokenizers (llama-bpe, qwen2, …) split text differently and would give other ids.
        if let pre = vocabulary.preTokenizer, pre != "gpt-2", pre != "default" {
            throw GPT2LoadError.unsupportedConfig(file: file.path, key: "tokenizer.ggml.pre", value: "\"\(pre)\"",
                                                  reason: "only GPT-2's pre-tokenizer (\"gpt-2\") is supported")
        }
        tokens = vocabulary.tokens
        merges = vocabulary.merges
        specialTokenIds = vocabulary.ids(ofType: .control)
        userDefinedTokenIds = vocabulary.ids(ofType: .userDefined).filter { !Self.isPadFiller(vocabulary.tokens[$0], id: $0) }
        bosTokenId = vocabulary.bosTokenId
        eosTokenId = vocabulary.eosTokenId
        source = file.path
    }

    /// "[PAD123]" at id 123: the converter's name for an id missing from the HF vocabulary.
    private static func isPadFiller(_ token: String, id: Int) -> Bool {
        token == "[PAD\(id)]"
    }
}
