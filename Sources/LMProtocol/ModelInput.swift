/// What a model method reads: `text` or `ids`, exactly one.
public enum ModelInput: Hashable, Sendable {
    /// Text to tokenize.
    case text(String)
    /// Token ids as given.
    case ids([Int])

    /// Reads `text` or `ids` from params, refusing both or neither.
    public init(_ params: ParamReader) throws(RPCError) {
        let text = try params.string("text")
        let ids = try params.tokenIDs("ids")
        switch (text, ids) {
        case let (t?, nil): self = .text(t)
        case let (nil, i?): self = .ids(i)
        case (.some, .some): throw RPCError.invalidParams("text", "and ids were both given; give exactly one")
        case (nil, nil): throw RPCError.invalidParams("text", "or ids is required; give exactly one")
        }
    }

    /// Refuses ids outside `0..<vocabSize`, naming the first one.
    public func validate(vocabSize: Int) throws(RPCError) {
        guard case let .ids(ids) = self else { return }
        if let k = ids.firstIndex(where: { $0 < 0 || $0 >= vocabSize }) {
            throw RPCError.invalidParams(
                "ids[\(k)]", "is \(ids[k]), outside the vocabulary (0..<\(vocabSize))",
                extra: ["vocab_size": .int(vocabSize)])
        }
    }

    /// Writes `text` or `ids` into a params object.
    public func write(into object: inout JSONObject) {
        switch self {
        case let .text(t): object["text"] = .string(t)
        case let .ids(ids): object["ids"] = .array(ids.map { .int($0) })
        }
    }
}

/// The server's and protocol's versions, as `info` reports them.
public enum ProtocolVersion {
    /// The server's version.
    public static let server = "0.1.0"
    /// The wire protocol's version (bumped on incompatible changes).
    public static let protocolVersion = 1
}
