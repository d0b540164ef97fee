/// The JSON-RPC error codes this protocol uses.
public enum RPCErrorCode: Int, Sendable, CaseIterable {
    /// The line is not valid JSON.
    case parseError = -32700
    /// Valid JSON that is not a valid request.
    case invalidRequest = -32600
    /// No such method.
    case methodNotFound = -32601
    /// A parameter is missing, of the wrong type or out of range (the message names it).
    case invalidParams = -32602
    /// The server failed in a way the request did not cause.
    case internalError = -32603
    /// The request was cancelled by `$/cancelRequest`, by the server shutting down, or its connection closing.
    case requestCancelled = -32800
    /// Too many requests are waiting (the data carries the limit).
    case serverBusy = -32000
}

/// A JSON-RPC error object: code, message and optional structured data.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The numeric code (see `RPCErrorCode`; a peer may send others).
    public var code: Int
    /// One sentence for a person.
    public var message: String
    /// Structured details for a program (e.g. `{"param": "k"}`).
    public var data: JSONValue?

    /// An error with any code.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// An error with one of our codes.
    public init(_ code: RPCErrorCode, _ message: String, data: JSONValue? = nil) {
        self.init(code: code.rawValue, message: message, data: data)
    }

    /// The code as one of ours, if it is.
    public var knownCode: RPCErrorCode? { RPCErrorCode(rawValue: code) }

    /// "code: message".
    public var description: String { "\(code): \(message)" }

    /// The error object as JSON: `{"code", "message", "data"?}`.
    public var json: JSONValue {
        var o = JSONObject()
        o["code"] = .int(code)
        o["message"] = .string(message)
        if let data { o["data"] = data }
        return .object(o)
    }

    /// Reads an error object (for clients).
    public init?(json: JSONValue) {
        guard let code = json["code"]?.intValue, let message = json["message"]?.stringValue else { return nil }
        self.init(code: code, message: message, data: json["data"])
    }
}

extension RPCError {
    /// -32700 for a line that does not parse; the data carries the byte offset.
    public static func parseError(_ error: JSONParseError) -> RPCError {
        RPCError(.parseError, "Parse error: \(error.description)", data: ["offset": .int(error.offset)])
    }

    /// -32600 with the reason.
    public static func invalidRequest(_ reason: String) -> RPCError {
        RPCError(.invalidRequest, "Invalid request: \(reason)")
    }

    /// -32601 naming the method.
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(.methodNotFound, "Method not found: \(method)", data: ["method": .string(method)])
    }

    /// -32602 naming the parameter and why; `extra` members are added to the data.
    public static func invalidParams(_ param: String, _ reason: String, extra: JSONObject = JSONObject()) -> RPCError {
        var data = JSONObject()
        data["param"] = .string(param)
        for (key, value) in extra { data[key] = value }
        return RPCError(.invalidParams, "Invalid params: \(param) \(reason)", data: .object(data))
    }

    /// -32603 with what failed.
    public static func internalError(_ detail: String) -> RPCError {
        RPCError(.internalError, "Internal error: \(detail)")
    }

    /// -32800, saying why the request was cancelled.
    public static func requestCancelled(_ reason: String = "cancelled by $/cancelRequest", data: JSONValue? = nil) -> RPCError {
        RPCError(.requestCancelled, "Request cancelled: \(reason)", data: data)
    }

    /// -32000 with the limit that was reached (`scope` is "connection" or "server").
    public static func serverBusy(limit: Int, scope: String) -> RPCError {
        RPCError(
            .serverBusy,
            "Server busy: \(limit) requests are already queued for this \(scope) (the limit); retry later",
            data: ["limit": .int(limit), "scope": .string(scope)])
    }
}
