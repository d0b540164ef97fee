import Foundation
import LMClient
import LMProtocol

/// How results read on a terminal.
enum Output {
    /// A token as a JSON string literal, so that spaces and control characters show: `" go"`.
    static func quoted(_ token: String) -> String { JSONValue.string(token).description }

    /// `tokenize`: one line per token: id, quoted token, byte range.
    static func tokens(_ json: JSONValue) {
        guard let result = TokenizeResult(json: json) else { return print(json.description) }
        for (index, id) in result.ids.enumerated() {
            let token = index < result.tokens.count ? quoted(result.tokens[index]) : "?"
            var line = "\(String(id).leftPadded(6))  \(token)"
            if index < result.offsets.count { line += "  [\(result.offsets[index].lowerBound), \(result.offsets[index].upperBound))" }
            print(line)
        }
    }

    /// `topk`: one line per token: rank, quoted token, probability.
    static func topK(_ json: JSONValue) {
        guard let result = TopKResult(json: json) else { return print(json.description) }
        let width = min(24, (result.tokens.map { quoted($0).count }.max() ?? 0))
        for (rank, token) in result.tokens.enumerated() {
            let p = rank < result.probs.count ? probability(Double(result.probs[rank])) : "?"
            print("\(String(rank + 1).leftPadded(3))  \(quoted(token).rightPadded(width))  \(p)")
        }
    }

    static func probability(_ p: Double) -> String {
        p >= 0.001 || p == 0 ? String(format: "%.4f", p) : String(format: "%.3e", p)
    }

    /// `forward`: the shape, then for each position its token and the most likely next token with its logit.
    static func logits(_ json: JSONValue, client: LMClient) throws {
        guard let result = ForwardResult(json: json), result.columns > 0,
            result.values.count == result.rows * result.columns
        else { return print(json.description) }
        print("logits: \(result.rows) × \(result.columns)")
        let firstRow = result.ids.count - result.rows  // --last: the one row is the last position
        for row in 0..<result.rows {
            let values = result.values[(row * result.columns)..<((row + 1) * result.columns)]
            var best = values.startIndex
            for index in values.indices where values[index] > values[best] { best = index }
            let nextID = best - values.startIndex
            let position = firstRow + row
            let inputID = position >= 0 && position < result.ids.count ? result.ids[position] : nil
            let input = inputID.map { "\(quoted(text(of: $0, client: client))) (\($0))" } ?? "?"
            let next = "\(quoted(text(of: nextID, client: client))) (\(nextID))"
            print("\(String(position).leftPadded(5))  \(input.rightPadded(20))  → \(next.rightPadded(20))  logit \(String(format: "%.4f", values[best]))")
        }
    }

    private static func text(of id: Int, client: LMClient) -> String {
        (try? client.call("detokenize", params: ["ids": [.int(id)]]))?["text"]?.stringValue ?? "#\(id)"
    }

    /// The text a `complete/delta` notification carries.
    static func deltaText(_ notification: LMNotification) -> String? {
        guard notification.method == CompleteDelta.method else { return nil }
        return CompleteDelta(json: notification.params)?.text
    }

    /// `suggest`: one line per suggestion: rank, label, what to insert (quoted), probability.
    static func suggestions(_ json: JSONValue) {
        guard let result = SuggestResult(json: json) else { return print(json.description) }
        if !result.healed.isEmpty { print("healed: \(quoted(result.healed))") }
        let width = min(24, result.suggestions.map { quoted($0.label).count }.max() ?? 0)
        let insertWidth = min(24, result.suggestions.map { quoted($0.insert).count }.max() ?? 0)
        for (rank, s) in result.suggestions.enumerated() {
            print("\(String(rank + 1).leftPadded(3))  \(quoted(s.label).rightPadded(width))  insert \(quoted(s.insert).rightPadded(insertWidth))  \(probability(exp(Double(s.logprob))))")
        }
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
