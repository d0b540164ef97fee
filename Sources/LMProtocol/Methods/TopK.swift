/// `topk` params: `{text | ids, k?}`.
public struct TopKParams: Hashable, Sendable {
    /// The method name.
    public static let method = "topk"
    /// The context.
    public var input: ModelInput
    /// Whether to tokenize `text` with a prefix space; nil: the server's default.
    public var addPrefixSpace: Bool?
    /// How many tokens (1 … vocabulary size).
    public var k: Int

    /// Params from values.
    public init(input: ModelInput, addPrefixSpace: Bool? = nil, k: Int = 10) {
        self.input = input
        self.addPrefixSpace = addPrefixSpace
        self.k = k
    }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        input = try ModelInput(p)
        addPrefixSpace = try p.bool("add_prefix_space")
        k = try p.int("k", in: 1...Int.max) ?? 10
    }

    /// Checks ids and that k is at most the vocabulary size.
    public func validate(vocabSize: Int) throws(RPCError) {
        try input.validate(vocabSize: vocabSize)
        guard k <= vocabSize else {
            throw RPCError.invalidParams("k", "must be at most the vocabulary size (\(vocabSize)), not \(k)")
        }
    }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        input.write(into: &o)
        if let addPrefixSpace { o["add_prefix_space"] = .bool(addPrefixSpace) }
        o["k"] = .int(k)
        return .object(o)
    }
}

/// `topk` result: `{ids, tokens, logits, probs, text, truncated?}`, most likely first.
public struct TopKResult: WireResult, Hashable {
    /// Token ids, most likely first.
    public var ids: [Int]
    /// Each id decoded alone.
    public var tokens: [String]
    /// Their raw logits.
    public var logits: [Float]
    /// Their softmax probabilities over the whole vocabulary.
    public var probs: [Float]
    /// The k tokens decoded together.
    public var text: String
    /// True when the context was cut to the most recent tokens that fit (written only when true).
    public var truncated: Bool

    /// A result.
    public init(ids: [Int], tokens: [String], logits: [Float], probs: [Float], text: String, truncated: Bool) {
        self.ids = ids
        self.tokens = tokens
        self.logits = logits
        self.probs = probs
        self.text = text
        self.truncated = truncated
    }

    /// The result as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["ids"] = .ints(ids)
        o["tokens"] = .strings(tokens)
        o["logits"] = .floats(logits)
        o["probs"] = .floats(probs)
        o["text"] = .string(text)
        if truncated { o["truncated"] = true }
        return .object(o)
    }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let ids = json["ids"]?.intArray, let tokens = json["tokens"]?.stringArray,
            let logits = json["logits"]?.floatArray, let probs = json["probs"]?.floatArray,
            let text = json["text"]?.stringValue
        else { return nil }
        self.init(ids: ids, tokens: tokens, logits: logits, probs: probs, text: text,
                  truncated: json["truncated"]?.boolValue ?? false)
    }
}
