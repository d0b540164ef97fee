import LMEngine
import LMProtocol

/// The one place engine errors become JSON-RPC errors.
enum EngineErrorMapping {
    /// The RPC error for an engine error; `inputParam` is the param the model input came from ("text" or "ids").
    static func rpcError(_ error: EngineError, inputParam: String) -> RPCError {
        switch error {
        case let .invalidTokenId(id, vocabSize):
            return .invalidParams(
                "ids", "contains \(id), outside the vocabulary (0..<\(vocabSize))", extra: ["vocab_size": .int(vocabSize)])
        case let .contextTooLong(length, limit):
            return .invalidParams(
                inputParam, "is \(length) tokens, longer than the model's context of \(limit) tokens",
                extra: ["length": .int(length), "limit": .int(limit)])
        case let .invalidArgument(name, reason):
            return .invalidParams(name, reason)
        case .cancelled:
            return .requestCancelled()
        }
    }

    /// The RPC error for anything a handler threw.
    static func rpcError(_ error: any Error, inputParam: String) -> RPCError {
        switch error {
        case let e as RPCError: return e
        case let e as EngineError: return rpcError(e, inputParam: inputParam)
        default: return .internalError(String(describing: error))
        }
    }
}
