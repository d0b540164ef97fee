import Foundation

extension GPT2Tokenizer {
    /// A tokenizer from an in-memory vocabulary, e.g. a GGUF file's `tokenizer.ggml.*` metadata:
    /// `tokens[id]` in byte-level form ("Ġthe"), `merges` as "left right" in rank order. The tokens at
    /// `specialTokenIds` and `userDefinedTokenIds` are added tokens, matched in raw text before
    /// pre-tokenization; only special ones are plain text under `splitSpecialTokens`. `<|endoftext|>`
    /// is special even when not listed, as when loading vocab.json. Empty token strings are left out.
    /// `source` (a file path) and the field names appear in `TokenizerError.corruptFile` messages.
    public convenience init(
        tokens: [String], merges: [String], specialTokenIds: [Int] = [], userDefinedTokenIds: [Int] = [],
        source: String, tokensField: String = "tokens", mergesField: String = "merges"
    ) throws {
        func corrupt(_ reason: String) -> TokenizerError { .corruptFile(path: source, reason: reason) }
        guard !tokens.isEmpty else { throw corrupt("\(tokensField) is empty") }

        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where !token.isEmpty {
            if let other = vocab.updateValue(id, forKey: token) {
                throw corrupt("\(tokensField)[\(other)] and \(tokensField)[\(id)] are both \"\(token)\"")
            }
        }

        // Checked here, with this source's field names, so that the shared checks below never fail on
        // merges and report them in another format's terms.
        var parsed: [TokenizerDefinition.Merge] = []
        parsed.reserveCapacity(merges.count)
        for (index, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw corrupt("\(mergesField)[\(index)] (\"\(merge.prefix(80))\") is not two tokens separated by one space")
            }
            let left = String(parts[0]), right = String(parts[1])
            guard vocab[left] != nil, vocab[right] != nil else {
                throw corrupt("\(mergesField)[\(index)] merges \"\(left) \(right)\", which names a token not in \(tokensField)")
            }
            guard vocab[left + right] != nil else {
                throw corrupt("\(mergesField)[\(index)] merges into \"\(left + right)\", which is not in \(tokensField)")
            }
            parsed.append(TokenizerDefinition.Merge(left: left, right: right, position: index))
        }

        var added: [AddedToken] = []
        var addedIds = Set<Int>()
        for (ids, special) in [(specialTokenIds, true), (userDefinedTokenIds, false)] {
            for id in ids where !addedIds.contains(id) {
                guard tokens.indices.contains(id), !tokens[id].isEmpty else {
                    throw corrupt("added token id \(id) is not a token of \(tokensField) (0..<\(tokens.count))")
                }
                added.append(AddedToken(content: tokens[id], id: id, special: special))
                addedIds.insert(id)
            }
        }
        if let id = vocab[TokenizerDefinition.endOfText], !addedIds.contains(id) {
            added.append(AddedToken(content: TokenizerDefinition.endOfText, id: id, special: true))
        }

        try self.init(definition: TokenizerDefinition(
            vocab: vocab, merges: parsed, addedTokens: added, vocabPath: source, mergesPath: source))
    }
}
