import LMEngine
import LMProtocol

extension ModelInput {
    /// The param an engine error about this input names.
    var paramName: String {
        switch self {
        case .text: return "text"
        case .ids: return "ids"
        }
    }

    /// Token ids for the engine: given ids as they are, text tokenized (on the lane, never while receiving).
    func tokenIDs(engine: DispatchEngine, addPrefixSpace: Bool) -> [Int] {
        switch self {
        case let .text(text): return engine.encode(text, addPrefixSpace: addPrefixSpace)
        case let .ids(ids): return ids
        }
    }
}
