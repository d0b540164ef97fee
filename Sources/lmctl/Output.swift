import Foundation
import LMClient
import LMProtocol

/// How results read on a terminal.
enum Output {
    /// A token as a JSON string literal, so that spaces and control characters show: `" go"`.
    static func quoted(_ token: String) -> String { JSONValue.string(token).description }

    /// `tokenize`: one line per token: id, quoted token, byte range.
    static func tokens(_ result: JSONValue) {
        guard let tokens = result["tokens"]?.arrayValue else { return print(result.description) }
        for token in tokens {
            let id = token["id"]?.intValue.map(String.init) ?? "?"
            let text = token["text"]?.stringValue ?? token["token"]?.stringValue ?? ""
            var line = "\(id.leftPadded(6))  \(quoted(text))"
            if let start = token["start"]?.intValue, let end = token["end"]?.intValue { line += "  [\(start), \(end))" }
            print(line)
        }
    }

    /// `topk`: one line per token: rank, quoted token, probability.
    static func topK(_ result: JSONValue) {
        let tokens = result["tokens"]?.arrayValue ?? []
        let probs = result["probs"]?.arrayValue ?? []
        guard !tokens.isEmpty else { return print(result.description) }
        for (rank, token) in tokens.enumerated() {
            // Either parallel arrays (tokens, probs) or one object per token.
            let text = token.stringValue ?? token["token"]?.stringValue ?? ""
            let p = (rank < probs.count ? probs[rank].doubleValue : nil) ?? token["prob"]?.doubleValue
            print("\(String(rank + 1).leftPadded(3))  \(quoted(text).rightPadded(18))  \(p.map(probability) ?? "?")")
        }
    }

    static func probability(_ p: Double) -> String {
        p >= 0.001 ? String(format: "%.4f", p) : String(format: "%.3e", p)
    }

    /// `forward`: the shape, then for each row the most likely next token and its logit.
    static func logits(_ result: JSONValue, client: LMClient) throws {
        guard let rows = result["rows"]?.intValue, let vocab = result["vocab_size"]?.intValue,
            let encoded = result["logits_base64"]?.stringValue, let data = Data(base64Encoded: encoded),
            data.count == rows * vocab * 4, vocab > 0
        else { return print(result.description) }
        let values: [Float] = data.withUnsafeBytes { raw in
            (0..<(rows * vocab)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        print("logits: \(rows) × \(vocab)")
        var best: [(Int, Float)] = []
        for row in 0..<rows {
            var index = 0
            for v in 1..<vocab where values[row * vocab + v] > values[row * vocab + index] { index = v }
            best.append((index, values[row * vocab + index]))
        }
        let names = try? client.call("detokenize", params: ["ids": .array(best.map { .int($0.0) }), "each": true])
        let texts = names?["tokens"]?.arrayValue?.compactMap(\.stringValue)
        for (row, (id, logit)) in best.enumerated() {
            let token = texts.flatMap { row < $0.count ? quoted($0[row]) : nil } ?? "#\(id)"
            print("\(String(row).leftPadded(5))  best next \(token.rightPadded(16)) (id \(id), logit \(String(format: "%.4f", logit)))")
        }
    }

    /// The text a streaming notification carries, if any.
    static func deltaText(_ notification: LMNotification) -> String? {
        notification.params["text"]?.stringValue ?? notification.params["delta"]?.stringValue
    }

    /// `info`: one `key: value` line per member.
    static func fields(_ result: JSONValue) {
        guard let object = result.objectValue else { return print(result.description) }
        let width = object.keys.map(\.count).max() ?? 0
        for (key, value) in object {
            print("\((key + ":").rightPadded(width + 1)) \(value.stringValue ?? value.description)")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func rightPadded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
