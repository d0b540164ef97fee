/// Where a suggestion stops: the end of the word at the cursor, of the line, or only at `max_tokens`.
public enum SuggestStop: String, Hashable, Sendable, CaseIterable {
    /// The word the cursor is in (or the next word, after a space).
    case word
    /// The end of the line.
    case line
    /// Only `max_tokens`.
    case none
}

/// `suggest` params: `{text, n?: 5, max_tokens?: 8, stop_at?: "word", heal?: true, add_prefix_space?}`.
public struct SuggestParams: Hashable, Sendable {
    /// The method name.
    public static let method = "suggest"
    /// The text before the cursor.
    public var text: String
    /// How many suggestions at most (1 … 100).
    public var n: Int
    /// Tokens per suggestion at most (1 … 256).
    public var maxTokens: Int
    /// Where suggestions stop.
    public var stopAt: SuggestStop
    /// Whether to back off the token the cursor splits (token healing).
    public var heal: Bool
    /// Whether to tokenize with a prefix space; nil: the server's default.
    public var addPrefixSpace: Bool?

    /// Params from values.
    public init(text: String, n: Int = 5, maxTokens: Int = 8, stopAt: SuggestStop = .word, heal: Bool = true,
                addPrefixSpace: Bool? = nil) {
        self.text = text
        self.n = n
        self.maxTokens = maxTokens
        self.stopAt = stopAt
        self.heal = heal
        self.addPrefixSpace = addPrefixSpace
    }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        guard let text = try p.string("text") else { throw RPCError.invalidParams("text", "is required (a string)") }
        self.text = text
        n = try p.int("n", in: 1...100) ?? 5
        maxTokens = try p.int("max_tokens", in: 1...256) ?? 8
        stopAt = try p.choice("stop_at", SuggestStop.self) ?? .word
        heal = try p.bool("heal") ?? true
        addPrefixSpace = try p.bool("add_prefix_space")
    }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["text"] = .string(text)
        o["n"] = .int(n)
        o["max_tokens"] = .int(maxTokens)
        o["stop_at"] = .string(stopAt.rawValue)
        o["heal"] = .bool(heal)
        if let addPrefixSpace { o["add_prefix_space"] = .bool(addPrefixSpace) }
        return .object(o)
    }
}

/// One suggestion: `{insert, label, logprob, ids}`.
public struct SuggestionItem: Hashable, Sendable {
    /// Exactly what to type at the cursor.
    public var insert: String
    /// The whole word or words, as a menu shows them.
    public var label: String
    /// Log-probability of its tokens (the first renormalised over the tokens healing allows).
    public var logprob: Float
    /// Its tokens.
    public var ids: [Int]

    /// An item.
    public init(insert: String, label: String, logprob: Float, ids: [Int]) {
        self.insert = insert
        self.label = label
        self.logprob = logprob
        self.ids = ids
    }

    /// The item as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["insert"] = .string(insert)
        o["label"] = .string(label)
        o["logprob"] = .double(Double(logprob))
        o["ids"] = .ints(ids)
        return .object(o)
    }

    /// Reads an item.
    public init?(json: JSONValue) {
        guard let insert = json["insert"]?.stringValue, let label = json["label"]?.stringValue,
            let logprob = json["logprob"]?.doubleValue, let ids = json["ids"]?.intArray
        else { return nil }
        self.init(insert: insert, label: label, logprob: Float(logprob), ids: ids)
    }
}

/// `suggest` result: `{suggestions: [...], healed, truncated?}`, best first.
public struct SuggestResult: WireResult, Hashable {
    /// The suggestions, best first.
    public var suggestions: [SuggestionItem]
    /// The text healing took back from the end of the input ("" without healing).
    public var healed: String
    /// True when the context was cut to the most recent tokens that fit (written only when true).
    public var truncated: Bool

    /// A result.
    public init(suggestions: [SuggestionItem], healed: String, truncated: Bool) {
        self.suggestions = suggestions
        self.healed = healed
        self.truncated = truncated
    }

    /// The result as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["suggestions"] = .array(suggestions.map(\.json))
        o["healed"] = .string(healed)
        if truncated { o["truncated"] = true }
        return .object(o)
    }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let items = json["suggestions"]?.arrayValue, let healed = json["healed"]?.stringValue else { return nil }
        let parsed = items.compactMap(SuggestionItem.init(json:))
        guard parsed.count == items.count else { return nil }
        self.init(suggestions: parsed, healed: healed, truncated: json["truncated"]?.boolValue ?? false)
    }
}
