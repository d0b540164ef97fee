/// `complete` params: `{text | ids, max_tokens?, temperature?, top_k?, top_p?, seed?, stop?, stream?, logprobs?}`.
public struct CompleteParams: Hashable, Sendable {
    /// The method name.
    public static let method = "complete"
    /// The prompt.
    public var input: ModelInput
    /// Whether to tokenize `text` with a prefix space; nil: the server's default.
    public var addPrefixSpace: Bool?
    /// New tokens at most (0 or more).
    public var maxTokens: Int
    /// 0: greedy; above 0: sampling at this temperature.
    public var temperature: Double
    /// Sample among the k most likely only (0 or nil: no limit).
    public var topK: Int?
    /// Nucleus sampling threshold in (0, 1].
    public var topP: Double?
    /// Sampling seed (0 … 2^63−1); the same seed gives the same tokens.
    public var seed: UInt64?
    /// Stop before any of these (non-empty) strings would appear.
    public var stop: [String]
    /// Send `complete/delta` notifications as tokens are made.
    public var stream: Bool
    /// Alternatives to report per new token (0 … 20).
    public var logprobs: Int

    /// The most alternatives `logprobs` may ask for.
    public static let maxLogprobs = 20

    /// Params from values.
    public init(
        input: ModelInput, addPrefixSpace: Bool? = nil, maxTokens: Int = 16, temperature: Double = 0,
        topK: Int? = nil, topP: Double? = nil, seed: UInt64? = nil, stop: [String] = [], stream: Bool = false,
        logprobs: Int = 0
    ) {
        self.input = input
        self.addPrefixSpace = addPrefixSpace
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stop = stop
        self.stream = stream
        self.logprobs = logprobs
    }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        input = try ModelInput(p)
        addPrefixSpace = try p.bool("add_prefix_space")
        maxTokens = try p.int("max_tokens", in: 0...Int.max) ?? 16
        temperature = try p.number("temperature") ?? 0
        guard temperature >= 0, temperature.isFinite else {
            throw RPCError.invalidParams("temperature", "must be a finite number, 0 (greedy) or more, not \(JSONValue.double(temperature))")
        }
        topK = try p.int("top_k", in: 0...Int.max)
        topP = try p.number("top_p")
        if let topP, !(topP > 0 && topP <= 1) {
            throw RPCError.invalidParams("top_p", "must be in (0, 1], not \(JSONValue.double(topP))")
        }
        seed = try p.int("seed", in: 0...Int.max).map { UInt64($0) }
        stop = try p.strings("stop") ?? []
        if let k = stop.firstIndex(of: "") { throw RPCError.invalidParams("stop[\(k)]", "must not be empty") }
        stream = try p.bool("stream") ?? false
        logprobs = try p.int("logprobs", in: 0...Self.maxLogprobs) ?? 0
    }

    /// Checks ids and that top_k is at most the vocabulary size.
    public func validate(vocabSize: Int) throws(RPCError) {
        try input.validate(vocabSize: vocabSize)
        if let topK, topK > vocabSize {
            throw RPCError.invalidParams("top_k", "must be at most the vocabulary size (\(vocabSize)), not \(topK)")
        }
    }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        input.write(into: &o)
        if let addPrefixSpace { o["add_prefix_space"] = .bool(addPrefixSpace) }
        o["max_tokens"] = .int(maxTokens)
        o["temperature"] = .double(temperature)
        if let topK { o["top_k"] = .int(topK) }
        if let topP { o["top_p"] = .double(topP) }
        if let seed { o["seed"] = .int(Int(truncatingIfNeeded: seed)) }
        if !stop.isEmpty { o["stop"] = .strings(stop) }
        if stream { o["stream"] = true }
        if logprobs > 0 { o["logprobs"] = .int(logprobs) }
        return .object(o)
    }
}

/// Why a completion ended, as written on the wire.
public enum CompletionFinishReason: String, Hashable, Sendable, CaseIterable {
    /// `max_tokens` reached, or the model's context is full.
    case length
    /// A stop string was met (it is not in the text).
    case stop
    /// The model produced end-of-text (not in the ids or text).
    case eos
    /// Cancelled (only seen in a cancelled request's error data: a cancelled request answers -32800).
    case cancelled
}

/// One alternative at a generated position.
public struct TopLogprob: Hashable, Sendable {
    /// The token id.
    public var id: Int
    /// The token decoded alone.
    public var token: String
    /// Its natural-log probability.
    public var logprob: Float

    /// An alternative.
    public init(id: Int, token: String, logprob: Float) {
        self.id = id
        self.token = token
        self.logprob = logprob
    }

    /// `{id, token, logprob}`.
    public var json: JSONValue { ["id": .int(id), "token": .string(token), "logprob": .double(Double(logprob))] }

    /// Reads one (for clients).
    public init?(json: JSONValue) {
        guard let id = json["id"]?.intValue, let token = json["token"]?.stringValue,
            let logprob = json["logprob"]?.doubleValue
        else { return nil }
        self.init(id: id, token: token, logprob: Float(logprob))
    }
}

/// The log-probability of one generated token and the most likely alternatives.
public struct TokenLogprobs: Hashable, Sendable {
    /// The chosen id.
    public var id: Int
    /// The chosen token decoded alone.
    public var token: String
    /// Its natural-log probability.
    public var logprob: Float
    /// The most likely alternatives, most likely first.
    public var top: [TopLogprob]

    /// An entry.
    public init(id: Int, token: String, logprob: Float, top: [TopLogprob]) {
        self.id = id
        self.token = token
        self.logprob = logprob
        self.top = top
    }

    /// `{id, token, logprob, top}`.
    public var json: JSONValue {
        ["id": .int(id), "token": .string(token), "logprob": .double(Double(logprob)), "top": .array(top.map(\.json))]
    }

    /// Reads one (for clients).
    public init?(json: JSONValue) {
        guard let id = json["id"]?.intValue, let logprob = json["logprob"]?.doubleValue,
            let rawTop = json["top"]?.arrayValue
        else { return nil }
        var top: [TopLogprob] = []
        for t in rawTop {
            guard let e = TopLogprob(json: t) else { return nil }
            top.append(e)
        }
        self.init(id: id, token: json["token"]?.stringValue ?? "", logprob: Float(logprob), top: top)
    }
}

/// `complete` result: `{ids, text, finish_reason, truncated?, logprobs?}`.
public struct CompleteResult: WireResult, Hashable {
    /// The new ids.
    public var ids: [Int]
    /// The new text.
    public var text: String
    /// Why it ended.
    public var finishReason: CompletionFinishReason
    /// True when the prompt was cut to fit (written only when true).
    public var truncated: Bool
    /// One entry per new id, when `logprobs` was above 0 (written only then).
    public var logprobs: [TokenLogprobs]?

    /// A result.
    public init(ids: [Int], text: String, finishReason: CompletionFinishReason, truncated: Bool, logprobs: [TokenLogprobs]? = nil) {
        self.ids = ids
        self.text = text
        self.finishReason = finishReason
        self.truncated = truncated
        self.logprobs = logprobs
    }

    /// The result as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["ids"] = .ints(ids)
        o["text"] = .string(text)
        o["finish_reason"] = .string(finishReason.rawValue)
        if truncated { o["truncated"] = true }
        if let logprobs { o["logprobs"] = .array(logprobs.map(\.json)) }
        return .object(o)
    }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let ids = json["ids"]?.intArray, let text = json["text"]?.stringValue,
            let reason = json["finish_reason"]?.stringValue.flatMap(CompletionFinishReason.init(rawValue:))
        else { return nil }
        var logprobs: [TokenLogprobs]? = nil
        if let raw = json["logprobs"]?.arrayValue {
            var entries: [TokenLogprobs] = []
            for e in raw {
                guard let entry = TokenLogprobs(json: e) else { return nil }
                entries.append(entry)
            }
            logprobs = entries
        }
        self.init(ids: ids, text: text, finishReason: reason, truncated: json["truncated"]?.boolValue ?? false,
                  logprobs: logprobs)
    }
}

/// `complete/delta` notification params: `{id, ids, text, logprobs?}`, sent while a streamed completion runs.
public struct CompleteDelta: Hashable, Sendable {
    /// The notification's method name.
    public static let method = "complete/delta"
    /// The id of the `complete` request this belongs to.
    public var requestID: RPCID
    /// Ids made since the previous delta.
    public var ids: [Int]
    /// Text completed since the previous delta (never splits a UTF-8 character; may be empty).
    public var text: String
    /// Logprobs of those ids, when the request asked for them.
    public var logprobs: [TokenLogprobs]?

    /// A delta.
    public init(requestID: RPCID, ids: [Int], text: String, logprobs: [TokenLogprobs]? = nil) {
        self.requestID = requestID
        self.ids = ids
        self.text = text
        self.logprobs = logprobs
    }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        o["id"] = requestID.json
        o["ids"] = .ints(ids)
        o["text"] = .string(text)
        if let logprobs { o["logprobs"] = .array(logprobs.map(\.json)) }
        return .object(o)
    }

    /// The notification carrying this delta.
    public var notification: RPCRequest { RPCRequest(id: nil, method: Self.method, params: json) }

    /// Reads a delta from a notification's params (for clients).
    public init?(json: JSONValue) {
        guard let rawID = json["id"], let id = RPCID(json: rawID), let ids = json["ids"]?.intArray,
            let text = json["text"]?.stringValue
        else { return nil }
        self.init(requestID: id, ids: ids, text: text,
                  logprobs: json["logprobs"]?.arrayValue?.compactMap(TokenLogprobs.init(json:)))
    }
}
