import Foundation

/// The content of a tokenizer's files, parsed but not yet checked against itself: the vocabulary, the
/// merge rules in rank order, and the added tokens. `GPT2Tokenizer` builds its tables from this.
struct TokenizerDefinition {
    /// A merge rule and where it came from: a line number in merges.txt, an index in tokenizer.json.
    struct Merge {
        var left: String
        var right: String
        var position: Int
    }

    var vocab: [String: Int]
    var merges: [Merge]
    var addedTokens: [AddedToken]
    /// The file that holds the vocabulary, and the one that holds the merges (the same for tokenizer.json).
    var vocabPath: String
    var mergesPath: String

    /// Where a merge came from, for error messages (formatted only when needed).
    func location(of merge: Merge) -> String {
        mergesPath == vocabPath ? "model.merges[\(merge.position)]" : "line \(merge.position)"
    }

    /// The name of GPT-2's end-of-text token, registered as a special token when loading vocab.json.
    static let endOfText = "<|endoftext|>"

    // MARK: - vocab.json + merges.txt

    /// Reads the original GPT-2 files. As in Hugging Face's GPT2TokenizerFast, `<|endoftext|>` is the
    /// special token.
    static func load(vocabURL: URL, mergesURL: URL) throws -> TokenizerDefinition {
        let vocabPath = vocabURL.path
        let json = try parseJSON(readFile(vocabURL), path: vocabPath)
        guard let object = json as? [String: Any] else {
            throw TokenizerError.corruptFile(path: vocabPath, reason: "it is not a JSON object mapping tokens to ids")
        }
        let vocab = try parseVocab(object, path: vocabPath, field: "")
        let merges = try parseMergesText(readFile(mergesURL), path: mergesURL.path)
        var added: [AddedToken] = []
        if let id = vocab[endOfText] { added.append(AddedToken(content: endOfText, id: id, special: true)) }
        return TokenizerDefinition(vocab: vocab, merges: merges, addedTokens: added,
                                   vocabPath: vocabPath, mergesPath: mergesURL.path)
    }

    /// One merge per line, "left right"; `#version` lines and blank lines are skipped. Split as bytes:
    /// splitting a String is per grapheme and several times slower on 50,000 lines.
    private static func parseMergesText(_ data: Data, path: String) throws -> [Merge] {
        guard String(data: data, encoding: .utf8) != nil else {
            throw TokenizerError.corruptFile(path: path, reason: "it is not valid UTF-8")
        }
        let bytes = [UInt8](data)
        var merges: [Merge] = []
        merges.reserveCapacity(50_000)
        var lineNumber = 0
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.starts(with: "#version".utf8) { continue }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                let text = String(decoding: line.prefix(80), as: UTF8.self)
                throw TokenizerError.corruptFile(
                    path: path, reason: "line \(lineNumber) (\"\(text)\") is not two tokens separated by one space")
            }
            merges.append(Merge(left: String(decoding: parts[0], as: UTF8.self),
                                right: String(decoding: parts[1], as: UTF8.self), position: lineNumber))
        }
        return merges
    }

    // MARK: - tokenizer.json

    /// Reads a Hugging Face tokenizers file: `model.vocab`, `model.merges` (as "a b" strings or
    /// ["a", "b"] pairs) and `added_tokens`.
    static func load(tokenizerJSONURL url: URL) throws -> TokenizerDefinition {
        let path = url.path
        func corrupt(_ reason: String) -> TokenizerError { .corruptFile(path: path, reason: reason) }
        guard let root = try parseJSON(readFile(url), path: path) as? [String: Any] else {
            throw corrupt("it is not a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else { throw corrupt("it has no \"model\" object") }
        if let type = model["type"] as? String, type != "BPE" {
            throw corrupt("model.type is \"\(type)\", not \"BPE\"")
        }
        if let ignoreMerges = model["ignore_merges"] as? Bool, ignoreMerges {
            throw corrupt("model.ignore_merges is true, which GPT-2 byte-level BPE does not support")
        }
        guard let vocabObject = model["vocab"] as? [String: Any] else {
            throw corrupt("it has no \"model.vocab\" object")
        }
        var vocab = try parseVocab(vocabObject, path: path, field: "model.vocab")
        guard let mergeList = model["merges"] as? [Any] else { throw corrupt("it has no \"model.merges\" array") }
        var merges: [Merge] = []
        merges.reserveCapacity(mergeList.count)
        for (index, item) in mergeList.enumerated() {
            var parts: [String]
            if let text = item as? String {
                parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = item as? [Any] {
                parts = pair.compactMap { $0 as? String }
                if parts.count != pair.count { parts = [] }
            } else {
                parts = []
            }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw corrupt("model.merges[\(index)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
            merges.append(Merge(left: parts[0], right: parts[1], position: index))
        }
        var added: [AddedToken] = []
        for (index, item) in ((root["added_tokens"] as? [Any]) ?? []).enumerated() {
            guard let token = item as? [String: Any], let content = token["content"] as? String, !content.isEmpty,
                  let id = token["id"] as? Int, id >= 0
            else { throw corrupt("added_tokens[\(index)] has no non-empty content and non-negative id") }
            added.append(AddedToken(content: content, id: id, special: token["special"] as? Bool ?? false))
            vocab[content] = id
        }
        return TokenizerDefinition(vocab: vocab, merges: merges, addedTokens: added, vocabPath: path, mergesPath: path)
    }

    // MARK: - Helpers

    private static func readFile(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path), let data = try? Data(contentsOf: url) else {
            throw TokenizerError.missingFile(path: url.path)
        }
        return data
    }

    private static func parseJSON(_ data: Data, path: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.corruptFile(path: path, reason: "it is not valid JSON")
        }
    }

    private static func parseVocab(_ object: [String: Any], path: String, field: String) throws -> [String: Int] {
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(object.count)
        for (token, value) in object {
            guard let id = value as? Int, id >= 0, id < Int(Int32.max) else {
                let name = field.isEmpty ? "the id of \"\(token)\"" : "\(field)[\"\(token)\"]"
                throw TokenizerError.corruptFile(path: path, reason: "\(name) is not a non-negative integer")
            }
            vocab[token] = id
        }
        return vocab
    }
}

/// A token matched in raw text before pre-tokenization (like `<|endoftext|>`).
struct AddedToken {
    var content: String
    var id: Int
    /// Special tokens are the ones `splitSpecialTokens` turns back into plain text.
    var special: Bool
}
