import Foundation

/// What can go wrong loading a tokenizer or decoding ids.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A tokenizer file does not exist (or cannot be read).
    case missingFile(path: String)
    /// A directory holds neither `vocab.json` + `merges.txt` nor `tokenizer.json`.
    case noTokenizerFiles(directory: String)
    /// A tokenizer file exists but its content is not what a GPT-2 byte-level BPE tokenizer needs.
    case corruptFile(path: String, reason: String)
    /// An id passed to `decode` is outside the vocabulary.
    case unknownId(Int)

    /// A sentence saying what went wrong and where.
    public var description: String {
        switch self {
        case .missingFile(let path):
            return "The tokenizer file \(path) does not exist or cannot be read."
        case .noTokenizerFiles(let directory):
            return "The directory \(directory) holds neither vocab.json with merges.txt nor tokenizer.json."
        case .corruptFile(let path, let reason):
            return "The tokenizer file \(path) is corrupt: \(reason)."
        case .unknownId(let id):
            return "Token id \(id) is not in the vocabulary."
        }
    }
}
