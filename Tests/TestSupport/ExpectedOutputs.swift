import Foundation

/// HF's outputs for the tiny model (`Tests/Fixtures/tiny-gpt2-expected`), read with Foundation alone so
/// that golden tests do not trust the code they test.
public struct ExpectedCase: Sendable {
    /// The prompt text.
    public var prompt: String
    /// Whether the tokenizer added a prefix space.
    public var addPrefixSpace: Bool
    /// The prompt's ids.
    public var ids: [Int]
    /// "all" or "last": which rows `logits` holds.
    public var logitsPositions: String
    /// Logits rows × V, row-major.
    public var logits: [Float]
    /// Rows in `logits`.
    public var logitRows: Int
    /// The top-20 ids at the last position.
    public var top20Ids: [Int]
    /// Their logits.
    public var top20Logits: [Float]
    /// Their probabilities (softmax over the whole vocabulary).
    public var top20Probs: [Float]
    /// Each id decoded alone.
    public var top20Tokens: [String]
    /// The smallest gap between top-20 neighbours.
    public var minGap: Float
    /// 16 greedy new ids (no stop at end-of-text).
    public var greedyIds: [Int]
    /// Their text.
    public var greedyText: String
    /// A short label for messages.
    public var label: String { "\(prompt.prefix(24).debugDescription) prefix_space=\(addPrefixSpace)" }
}

/// Loader for the expected outputs.
public enum Expected {
    /// Every case in expected.json with its logits.
    public static func cases() throws -> [ExpectedCase] {
        let dir = Fixtures.tinyExpected
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json"))) as! [String: Any]
        let tensors = try readSafetensors(dir.appendingPathComponent("logits.safetensors"))
        return (json["cases"] as! [[String: Any]]).map { c in
            let top = c["top20"] as! [String: Any]
            let greedy = c["greedy16"] as! [String: Any]
            let (shape, values) = tensors[c["logits_tensor"] as! String]!
            return ExpectedCase(
                prompt: c["prompt"] as! String, addPrefixSpace: c["add_prefix_space"] as! Bool,
                ids: ints(c["ids"]), logitsPositions: c["logits_positions"] as! String,
                logits: values, logitRows: shape[0],
                top20Ids: ints(top["ids"]), top20Logits: floats(top["logits"]), top20Probs: floats(top["probs"]),
                top20Tokens: top["tokens"] as! [String], minGap: (top["min_gap"] as! NSNumber).floatValue,
                greedyIds: ints(greedy["ids"]), greedyText: greedy["text"] as! String)
        }
    }

    private static func ints(_ v: Any?) -> [Int] { (v as! [NSNumber]).map(\.intValue) }
    private static func floats(_ v: Any?) -> [Float] { (v as! [NSNumber]).map(\.floatValue) }

    /// A minimal float32-only safetensors reader.
    public static func readSafetensors(_ url: URL) throws -> [String: ([Int], [Float])] {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        var out: [String: ([Int], [Float])] = [:]
        for (name, info) in header where name != "__metadata__" {
            let info = info as! [String: Any]
            precondition(info["dtype"] as! String == "F32")
            let offsets = ints(info["data_offsets"])
            let bytes = data.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
            let values = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            }
            out[name] = (ints(info["shape"]), values)
        }
        return out
    }
}
