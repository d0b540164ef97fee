/// A JSON-RPC response: the request's id and either a result or an error.
public struct RPCResponse: Hashable, Sendable {
    /// The request's id; nil (written `null`) only for errors about messages whose id could not be read.
    public var id: RPCID?
    /// The result or the error.
    public var outcome: Result<JSONValue, RPCError>

    /// A response.
    public init(id: RPCID?, outcome: Result<JSONValue, RPCError>) {
        self.id = id
        self.outcome = outcome
    }

    /// A successful response.
    public static func success(id: RPCID, result: JSONValue) -> RPCResponse {
        RPCResponse(id: id, outcome: .success(result))
    }

    /// An error response.
    public static func failure(id: RPCID?, error: RPCError) -> RPCResponse {
        RPCResponse(id: id, outcome: .failure(error))
    }

    /// The response as JSON: `{"jsonrpc": "2.0", "id", "result" | "error"}`.
    public var json: JSONValue {
        var o = JSONObject()
        o["jsonrpc"] = "2.0"
        o["id"] = id?.json ?? .null
        switch outcome {
        case let .success(result): o["result"] = result
        case let .failure(error): o["error"] = error.json
        }
        return .object(o)
    }

    /// The compact one-line text of the response.
    public func serialized() -> [UInt8] { json.serialized() }

    /// The text of a successful response whose result writes itself (large results skip building a tree).
    public static func serializedSuccess(id: RPCID, result: some WireResult) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(result.estimatedSize + 40)
        JSONWriter.appendASCII("{\"jsonrpc\":\"2.0\",\"id\":", to: &out)
        id.json.serialize(into: &out)
        JSONWriter.appendASCII(",\"result\":", to: &out)
        result.serialize(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Reads a response (for clients). Nil when `json` is not a response object.
    public init?(json: JSONValue) {
        guard case let .object(o) = json, o["jsonrpc"] == "2.0", let rawID = o["id"] else { return nil }
        let id = RPCID(json: rawID)
        if id == nil && !rawID.isNull { return nil }
        if let result = o["result"], o["error"] == nil {
            self.init(id: id, outcome: .success(result))
        } else if let e = o["error"], o["result"] == nil, let error = RPCError(json: e) {
            self.init(id: id, outcome: .failure(error))
        } else {
            return nil
        }
    }
}

/// A method result that knows its JSON and can write it directly.
public protocol WireResult: Sendable {
    /// The result as JSON.
    var json: JSONValue { get }
    /// Appends exactly `json.serialized()` to `out` (override when building the tree would be wasteful).
    func serialize(into out: inout [UInt8])
    /// A guess of the serialized size, to reserve memory once.
    var estimatedSize: Int { get }
}

extension WireResult {
    /// Serializes `json`.
    public func serialize(into out: inout [UInt8]) { json.serialize(into: &out) }
    /// Small by default.
    public var estimatedSize: Int { 256 }
}

extension JSONValue: WireResult {
    /// The value itself.
    public var json: JSONValue { self }
}

/// A message a server sends: a response, a notification, or a batch of responses.
public enum RPCServerMessage: Hashable, Sendable {
    /// A response to one request.
    case response(RPCResponse)
    /// A notification (e.g. `complete/delta`).
    case notification(RPCRequest)
    /// The responses to a batch.
    case batch([RPCResponse])

    /// Reads one line a server sent (for clients).
    public static func decode<C: Collection>(line: C) throws(RPCError) -> RPCServerMessage where C.Element == UInt8 {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw .parseError(error) }
        if case let .array(elements) = value {
            var responses: [RPCResponse] = []
            for e in elements {
                guard let r = RPCResponse(json: e) else { throw .invalidRequest("a batch reply element is not a response") }
                responses.append(r)
            }
            return .batch(responses)
        }
        if value["method"] != nil {
            do { return .notification(try RPCRequest(json: value)) } catch { throw error.error }
        }
        guard let r = RPCResponse(json: value) else { throw .invalidRequest("the message is neither a response nor a notification") }
        return .response(r)
    }
}
