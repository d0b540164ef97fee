/// `detokenize` params: `{ids}`.
public struct DetokenizeParams: Hashable, Sendable {
    /// The method name.
    public static let method = "detokenize"
    /// The ids to decode together.
    public var ids: [Int]

    /// Params from values.
    public init(ids: [Int]) { self.ids = ids }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        guard let ids = try p.tokenIDs("ids") else { throw RPCError.invalidParams("ids", "is required") }
        self.ids = ids
    }

    /// Checks the ids are inside the vocabulary.
    public func validate(vocabSize: Int) throws(RPCError) { try ModelInput.ids(ids).validate(vocabSize: vocabSize) }

    /// The params as JSON.
    public var json: JSONValue { ["ids": .ints(ids)] }
}

/// `detokenize` result: `{text}`.
public struct DetokenizeResult: WireResult, Hashable {
    /// The ids decoded together (bytes that are not valid UTF-8 become U+FFFD).
    public var text: String

    /// A result.
    public init(text: String) { self.text = text }

    /// The result as JSON.
    public var json: JSONValue { ["text": .string(text)] }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let text = json["text"]?.stringValue else { return nil }
        self.text = text
    }
}
