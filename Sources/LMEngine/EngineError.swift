import Foundation

/// What the engine refuses, with enough detail for a client to fix its request.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// An id outside 0 ..< vocabSize.
    case invalidTokenId(Int, vocabSize: Int)
    /// The input is longer than the model's context (only `forward` refuses; others truncate).
    case contextTooLong(length: Int, limit: Int)
    /// A parameter out of its range, named.
    case invalidArgument(name: String, reason: String)
    /// The caller cancelled the work.
    case cancelled

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case let .invalidTokenId(id, vocabSize): return "token id \(id) is outside the vocabulary (0..<\(vocabSize))"
        case let .contextTooLong(length, limit): return "input is \(length) tokens, longer than the model's context of \(limit)"
        case let .invalidArgument(name, reason): return "\(name): \(reason)"
        case .cancelled: return "cancelled"
        }
    }
}
