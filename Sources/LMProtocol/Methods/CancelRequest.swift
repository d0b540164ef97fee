/// `$/cancelRequest` params: `{id}`, the id of an earlier request on the same connection.
public struct CancelRequestParams: Hashable, Sendable {
    /// The method name.
    public static let method = "$/cancelRequest"
    /// The request to cancel.
    public var id: RPCID

    /// Params from values.
    public init(id: RPCID) { self.id = id }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        guard let raw = p.value("id") else { throw RPCError.invalidParams("id", "is required") }
        guard let id = RPCID(json: raw) else { throw p.wrongType("id", "an integer or a string", raw) }
        self.id = id
    }

    /// The params as JSON.
    public var json: JSONValue { ["id": id.json] }

    /// The notification carrying these params.
    public var notification: RPCRequest { RPCRequest(id: nil, method: Self.method, params: json) }
}
