/// Which positions `forward` returns logits for.
public enum ForwardPositions: String, Hashable, Sendable, CaseIterable {
    /// Every input position: shape [T, V].
    case all
    /// The last position only: shape [1, V].
    case last
}

/// How `forward` writes logits.
public enum LogitsEncoding: String, Hashable, Sendable, CaseIterable {
    /// Nested JSON arrays of numbers, `logits`.
    case json
    /// `logits_base64`: base64 of little-endian float32, row-major.
    case base64
}

/// `forward` params: `{text | ids, positions?, encoding?}`.
public struct ForwardParams: Hashable, Sendable {
    /// The method name.
    public static let method = "forward"
    /// The input.
    public var input: ModelInput
    /// Whether to tokenize `text` with a prefix space; nil: the server's default.
    public var addPrefixSpace: Bool?
    /// Which rows to return.
    public var positions: ForwardPositions
    /// How to write them.
    public var encoding: LogitsEncoding

    /// Params from values.
    public init(input: ModelInput, addPrefixSpace: Bool? = nil, positions: ForwardPositions = .all, encoding: LogitsEncoding = .json) {
        self.input = input
        self.addPrefixSpace = addPrefixSpace
        self.positions = positions
        self.encoding = encoding
    }

    /// Reads and checks params.
    public init(_ params: JSONValue?) throws(RPCError) {
        let p = try ParamReader(params)
        input = try ModelInput(p)
        addPrefixSpace = try p.bool("add_prefix_space")
        positions = try p.choice("positions", ForwardPositions.self) ?? .all
        encoding = try p.choice("encoding", LogitsEncoding.self) ?? .json
    }

    /// Checks ids are inside the vocabulary.
    public func validate(vocabSize: Int) throws(RPCError) { try input.validate(vocabSize: vocabSize) }

    /// The params as JSON.
    public var json: JSONValue {
        var o = JSONObject()
        input.write(into: &o)
        if let addPrefixSpace { o["add_prefix_space"] = .bool(addPrefixSpace) }
        o["positions"] = .string(positions.rawValue)
        o["encoding"] = .string(encoding.rawValue)
        return .object(o)
    }
}

/// `forward` result: `{ids, shape: [T, V], logits}` or `{ids, shape, logits_base64}`.
public struct ForwardResult: WireResult, Hashable {
    /// The ids the model ran on (the end-of-text id alone for empty input).
    public var ids: [Int]
    /// Rows returned (T).
    public var rows: Int
    /// Row length (V).
    public var columns: Int
    /// rows × columns logits, row-major.
    public var values: [Float]
    /// How `json` writes them.
    public var encoding: LogitsEncoding

    /// A result; `values.count` must be rows × columns.
    public init(ids: [Int], rows: Int, columns: Int, values: [Float], encoding: LogitsEncoding) {
        self.ids = ids
        self.rows = rows
        self.columns = columns
        self.values = values
        self.encoding = encoding
    }

    /// The result as JSON (builds the whole tree: `serialize(into:)` is the fast way to text).
    public var json: JSONValue {
        var o = JSONObject()
        o["ids"] = .ints(ids)
        o["shape"] = .ints([rows, columns])
        switch encoding {
        case .json:
            o["logits"] = .array((0..<rows).map { r in .floats(values[r * columns..<(r + 1) * columns]) })
        case .base64:
            o["logits_base64"] = .string(Float32Base64.encode(values))
        }
        return .object(o)
    }

    /// Writes the same text as `json.serialized()` without building the tree.
    public func serialize(into out: inout [UInt8]) {
        JSONWriter.appendASCII("{\"ids\":", to: &out)
        JSONValue.ints(ids).serialize(into: &out)
        JSONWriter.appendASCII(",\"shape\":[", to: &out)
        JSONWriter.appendInt(rows, to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendInt(columns, to: &out)
        switch encoding {
        case .json:
            JSONWriter.appendASCII("],\"logits\":[", to: &out)
            for r in 0..<rows {
                if r > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                for c in 0..<columns {
                    if c > 0 { out.append(UInt8(ascii: ",")) }
                    JSONWriter.appendFloat(values[r * columns + c], to: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
            JSONWriter.appendASCII("]}", to: &out)
        case .base64:
            JSONWriter.appendASCII("],\"logits_base64\":\"", to: &out)
            Float32Base64.append(values, to: &out)
            JSONWriter.appendASCII("\"}", to: &out)
        }
    }

    /// About 11 bytes per logit in JSON, 5.4 in base64.
    public var estimatedSize: Int { ids.count * 7 + values.count * (encoding == .json ? 11 : 6) + 64 }

    /// Reads a result in either encoding (for clients).
    public init?(json: JSONValue) {
        guard let ids = json["ids"]?.intArray, let shape = json["shape"]?.intArray, shape.count == 2,
            shape[0] >= 0, shape[1] >= 0
        else { return nil }
        let (count, overflow) = shape[0].multipliedReportingOverflow(by: shape[1])
        guard !overflow else { return nil }
        if let b64 = json["logits_base64"]?.stringValue {
            guard let values = Float32Base64.decode(b64), values.count == count else { return nil }
            self.init(ids: ids, rows: shape[0], columns: shape[1], values: values, encoding: .base64)
        } else if let rows = json["logits"]?.arrayValue, rows.count == shape[0] {
            var values: [Float] = []
            values.reserveCapacity(min(count, 1 << 28))
            for row in rows {
                guard let r = row.floatArray, r.count == shape[1] else { return nil }
                values.append(contentsOf: r)
            }
            self.init(ids: ids, rows: shape[0], columns: shape[1], values: values, encoding: .json)
        } else {
            return nil
        }
    }
}
