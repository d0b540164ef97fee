/// A JSON-RPC request id. We accept integers and strings; null and fractional ids are invalid requests.
public enum RPCID: Hashable, Sendable {
    /// An integer id.
    case int(Int)
    /// A string id.
    case string(String)

    /// The id in `json`, if it is a valid one (an integer written without fraction, or a string).
    public init?(json: JSONValue) {
        switch json {
        case let .int(i): self = .int(i)
        case let .string(s): self = .string(s)
        default: return nil
        }
    }

    /// The id as JSON.
    public var json: JSONValue {
        switch self {
        case let .int(i): return .int(i)
        case let .string(s): return .string(s)
        }
    }
}

extension RPCID: CustomStringConvertible {
    /// The id as it appears in JSON (`7` or `"abc"`).
    public var description: String { json.description }
}

extension RPCID: ExpressibleByIntegerLiteral {
    /// An integer id literal.
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension RPCID: ExpressibleByStringLiteral {
    /// A string id literal.
    public init(stringLiteral value: String) { self = .string(value) }
}
