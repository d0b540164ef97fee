/// `shutdown` params: none (anything given is ignored). The result is `null`.
public struct ShutdownParams: Hashable, Sendable {
    /// The method name.
    public static let method = "shutdown"

    /// No params.
    public init() {}

    /// Accepts absent params or an object (its members are ignored).
    public init(_ params: JSONValue?) throws(RPCError) { _ = try ParamReader(params) }
}
