/// A JSON-RPC request, or a notification when it has no id.
public struct RPCRequest: Hashable, Sendable {
    /// The id the response must carry; nil for a notification (which gets no response).
    public var id: RPCID?
    /// The method name.
    public var method: String
    /// The params: an object or an array; nil when absent (or null).
    public var params: JSONValue?

    /// A request (with `id`) or a notification (`id` nil).
    public init(id: RPCID?, method: String, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Whether this is a notification.
    public var isNotification: Bool { id == nil }

    /// The message as JSON: `{"jsonrpc": "2.0", "id"?, "method", "params"?}`.
    public var json: JSONValue {
        var o = JSONObject()
        o["jsonrpc"] = "2.0"
        if let id { o["id"] = id.json }
        o["method"] = .string(method)
        if let params { o["params"] = params }
        return .object(o)
    }

    /// Reads one request or notification, keeping a valid id in the error when the rest is invalid.
    ///
    /// Rules: an object; `"jsonrpc": "2.0"`; a string `method`; `id`, when present, an integer or a string
    /// (null is refused: it would make a response that cannot be told apart from a parse error's);
    /// `params`, when present, an object, an array or null (null is the same as absent). Other members are
    /// ignored.
    public init(json: JSONValue) throws(RPCInvalidMessage) {
        guard case let .object(o) = json else {
            throw RPCInvalidMessage(id: nil, error: .invalidRequest("a request must be a JSON object, not \(json.kindDescription)"))
        }
        var id: RPCID? = nil
        if let rawID = o["id"] {
            guard let valid = RPCID(json: rawID) else {
                throw RPCInvalidMessage(
                    id: nil, error: .invalidRequest("id must be an integer or a string, not \(rawID.kindDescription)"))
            }
            id = valid
        }
        guard o["jsonrpc"] == .string("2.0") else {
            throw RPCInvalidMessage(id: id, error: .invalidRequest("\"jsonrpc\" must be \"2.0\""))
        }
        guard let rawMethod = o["method"] else {
            throw RPCInvalidMessage(id: id, error: .invalidRequest("method is missing"))
        }
        guard case let .string(method) = rawMethod else {
            throw RPCInvalidMessage(id: id, error: .invalidRequest("method must be a string, not \(rawMethod.kindDescription)"))
        }
        var params: JSONValue? = nil
        switch o["params"] {
        case nil, .null?: break
        case let p? where p.objectValue != nil || p.arrayValue != nil: params = p
        case let p?:
            throw RPCInvalidMessage(id: id, error: .invalidRequest("params must be an object or an array, not \(p.kindDescription)"))
        }
        self.init(id: id, method: method, params: params)
    }
}

/// A message that is valid JSON but not a valid request: the error to answer with and the id, if readable.
public struct RPCInvalidMessage: Error, Hashable, Sendable {
    /// The request's id when it could be read; the reply then carries it (otherwise `null`).
    public var id: RPCID?
    /// The error to reply with.
    public var error: RPCError

    /// An invalid message.
    public init(id: RPCID?, error: RPCError) {
        self.id = id
        self.error = error
    }

    /// The reply this message gets.
    public var response: RPCResponse { .failure(id: id, error: error) }
}

/// What one received line holds: a single message or a batch, each entry decoded or refused.
public enum RPCIncoming: Sendable {
    /// One message (a parse error or an empty batch also arrive here, as a refused message with a null id).
    case single(Result<RPCRequest, RPCInvalidMessage>)
    /// A non-empty batch: one entry per element, in order.
    case batch([Result<RPCRequest, RPCInvalidMessage>])

    /// Decodes one line (without its newline).
    public static func decode<C: Collection>(line: C, maxDepth: Int = 512) -> RPCIncoming where C.Element == UInt8 {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line, maxDepth: maxDepth)
        } catch {
            return .single(.failure(RPCInvalidMessage(id: nil, error: .parseError(error))))
        }
        guard case let .array(elements) = value else { return .single(decodeOne(value)) }
        guard !elements.isEmpty else {
            return .single(.failure(RPCInvalidMessage(id: nil, error: .invalidRequest("empty batch"))))
        }
        return .batch(elements.map(decodeOne))
    }

    private static func decodeOne(_ value: JSONValue) -> Result<RPCRequest, RPCInvalidMessage> {
        Result { () throws(RPCInvalidMessage) in try RPCRequest(json: value) }
    }
}
