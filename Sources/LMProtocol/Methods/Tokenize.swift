/// `tokenize` params: `{text | ids, add_prefix_space?}`.
public struct TokenizeParams: Hashable, Sendable {
    /// The method name.
    public static let method = "tokenize"
    /// What to tokenize (with `ids`, the result shows how those ids split their decoded text).
    public var input: ModelInput
    /// Whether a space is put before the text first; nil: the server's default.
    public var addPrefixSpace: Bool?

    /// Params from values.
    public init(input: ModelInput, addPrefixSpace: Bool? = nil) {
        self.input = input
        self.addPrefixSpace = addPrefixSpace
    }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        input = try ModelInput(p)
        addPrefixSpace = try p.bool("add_prefix_space")
    }

    /// Checks what needs the model: ids inside the vocabulary.
    public func validate(vocabSize: Int) throws(RPCError) { try input.validate(vocabSize: vocabSize) }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        input.write(into: &o)
        if let addPrefixSpace { o["add_prefix_space"] = .bool(addPrefixSpace) }
        return .object(o)
    }
}

/// `tokenize` result: `{ids, tokens, offsets, text?}`.
public struct TokenizeResult: WireResult, Hashable {
    /// Token ids.
    public var ids: [Int]
    /// Each id decoded alone.
    public var tokens: [String]
    /// [start, end) UTF-8 byte offsets of each token in the text.
    public var offsets: [Range<Int>]
    /// With `ids` input: the ids decoded together, which `offsets` index (absent for `text` input).
    public var text: String?

    /// A result.
    public init(ids: [Int], tokens: [String], offsets: [Range<Int>], text: String? = nil) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.text = text
    }

    /// The result as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["ids"] = .ints(ids)
        o["tokens"] = .strings(tokens)
        o["offsets"] = .array(offsets.map { [.int($0.lowerBound), .int($0.upperBound)] })
        if let text { o["text"] = .string(text) }
        return .object(o)
    }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let ids = json["ids"]?.intArray, let tokens = json["tokens"]?.stringArray,
            let rawOffsets = json["offsets"]?.arrayValue
        else { return nil }
        var offsets: [Range<Int>] = []
        for r in rawOffsets {
            guard let pair = r.intArray, pair.count == 2, pair[0] <= pair[1] else { return nil }
            offsets.append(pair[0]..<pair[1])
        }
        self.init(ids: ids, tokens: tokens, offsets: offsets, text: json["text"]?.stringValue)
    }
}
