import Foundation
import LMClient
import LMProtocol

/// One transcript of `protocol/examples/*.jsonl` (format in the protocol's README / HELPERS.md).
struct ReplayTranscript {
    /// A line to send or a message expected back.
    enum Step {
        case send([UInt8])
        case receive(JSONValue)
    }

    var name: String
    var comment: String?
    /// Extra `lmd` arguments the transcript needs (e.g. `--add-prefix-space`).
    var daemonArguments: [String] = []
    var steps: [Step] = []

    /// Reads a transcript; throws with the line number on anything malformed.
    init(name: String, text: String) throws {
        self.name = name
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        for (index, line) in lines.enumerated() {
            let where_ = "\(name):\(index + 1)"
            guard let entry = try? JSONValue.parse(Array(line.utf8)), let object = entry.objectValue else {
                throw ReplayTranscriptError("\(where_): not a JSON object")
            }
            if let send = object["send"] {
                steps.append(.send(send.serialized()))
            } else if let raw = object["send_raw"] {
                guard let text = raw.stringValue else { throw ReplayTranscriptError("\(where_): send_raw must be a string") }
                steps.append(.send(Array(text.utf8)))
            } else if let expected = object["recv"] {
                steps.append(.receive(expected))
            } else if index == 0, object["comment"] != nil || object["daemon_args"] != nil {
                comment = object["comment"]?.stringValue
                daemonArguments = object["daemon_args"]?.arrayValue?.compactMap(\.stringValue) ?? []
            } else {
                throw ReplayTranscriptError("\(where_): expected send, send_raw or recv")
            }
        }
    }

    var expected: [JSONValue] { steps.compactMap { if case let .receive(v) = $0 { return v } else { return nil } } }
}

struct ReplayTranscriptError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Plays a transcript against a live socket and lists every difference (empty: it matched).
enum TranscriptReplayer {
    /// Numbers match within this, absolutely or relatively.
    static let tolerance = 1e-4

    static func replay(_ transcript: ReplayTranscript, socketPath: String, timeout: TimeInterval = 30) throws -> [String] {
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        for step in transcript.steps {
            if case let .send(bytes) = step { try connection.send(line: bytes) }
        }
        var received: [JSONValue] = []
        var problems: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < transcript.expected.count {
            let line: [UInt8]?
            do {
                line = try connection.readLine(timeout: max(0.01, deadline.timeIntervalSinceNow))
            } catch {
                problems.append("after \(received.count) of \(transcript.expected.count) replies: \(error)")
                break
            }
            guard let line else {
                problems.append("the connection closed after \(received.count) of \(transcript.expected.count) replies")
                break
            }
            guard let value = try? JSONValue.parse(line) else {
                problems.append("reply is not JSON: \(String(decoding: line.prefix(300), as: UTF8.self))")
                continue
            }
            received.append(value)
        }
        return problems + compare(expected: transcript.expected, received: received)
    }

    /// Responses pair up by id (in order among equal ids), notifications by order among themselves.
    static func compare(expected: [JSONValue], received: [JSONValue]) -> [String] {
        var problems: [String] = []
        let (expectedResponses, expectedNotes) = split(expected)
        var (actualResponses, actualNotes) = split(received)
        for message in expectedResponses {
            let id = message["id"] ?? .null
            guard let index = actualResponses.firstIndex(where: { ($0["id"] ?? .null) == id }) else {
                problems.append("no response with id \(id) (expected \(message))")
                continue
            }
            let actual = actualResponses.remove(at: index)
            problems += differences(expected: message, actual: actual, path: "response \(id)")
        }
        for extra in actualResponses { problems.append("unexpected response \(extra.description.prefix(300))") }
        for (index, note) in expectedNotes.enumerated() {
            guard index < actualNotes.count else {
                problems.append("notification \(index) missing (expected \(note))")
                continue
            }
            problems += differences(expected: note, actual: actualNotes[index], path: "notification \(index)")
        }
        if actualNotes.count > expectedNotes.count {
            actualNotes.removeFirst(expectedNotes.count)
            for extra in actualNotes { problems.append("unexpected notification \(extra.description.prefix(300))") }
        }
        return problems
    }

    private static func split(_ messages: [JSONValue]) -> ([JSONValue], [JSONValue]) {
        var responses: [JSONValue] = [], notifications: [JSONValue] = []
        for message in messages {
            if message["method"] != nil && message["id"] == nil { notifications.append(message) } else { responses.append(message) }
        }
        return (responses, notifications)
    }

    /// Exact equality except numbers (within `tolerance`) and `logits_base64` (decoded, element-wise).
    static func differences(expected: JSONValue, actual: JSONValue, path: String) -> [String] {
        switch (expected, actual) {
        case let (.object(e), .object(a)):
            var problems: [String] = []
            let missing = e.keys.filter { a[$0] == nil }, extra = a.keys.filter { e[$0] == nil }
            if !missing.isEmpty { problems.append("\(path): missing \(missing)") }
            if !extra.isEmpty { problems.append("\(path): unexpected \(extra)") }
            for (key, value) in e {
                guard let other = a[key] else { continue }
                if key == "logits_base64", let x = value.stringValue, let y = other.stringValue {
                    problems += floatsDifference(x, y, path: "\(path).\(key)")
                } else {
                    problems += differences(expected: value, actual: other, path: "\(path).\(key)")
                }
            }
            return problems
        case let (.array(e), .array(a)):
            guard e.count == a.count else { return ["\(path): \(a.count) elements, expected \(e.count)"] }
            return zip(e, a).enumerated().flatMap { differences(expected: $1.0, actual: $1.1, path: "\(path)[\($0)]") }
        default:
            if let x = expected.doubleValue, let y = actual.doubleValue {
                return closeEnough(x, y) ? [] : ["\(path): \(y), expected \(x)"]
            }
            return expected == actual ? [] : ["\(path): \(actual.description.prefix(200)), expected \(expected.description.prefix(200))"]
        }
    }

    static func closeEnough(_ x: Double, _ y: Double) -> Bool {
        let gap = abs(x - y)
        return gap <= tolerance || gap <= tolerance * max(abs(x), abs(y))
    }

    private static func floatsDifference(_ expected: String, _ actual: String, path: String) -> [String] {
        guard let e = decodeFloats(expected), let a = decodeFloats(actual) else { return ["\(path): not base64 float32"] }
        guard e.count == a.count else { return ["\(path): \(a.count) floats, expected \(e.count)"] }
        var worst = 0.0, worstIndex = -1
        for i in e.indices where !closeEnough(Double(e[i]), Double(a[i])) {
            let gap = abs(Double(e[i]) - Double(a[i]))
            if gap > worst { worst = gap; worstIndex = i }
        }
        return worstIndex < 0 ? [] : ["\(path)[\(worstIndex)]: \(a[worstIndex]), expected \(e[worstIndex]) (max difference \(worst))"]
    }

    static func decodeFloats(_ text: String) -> [Float]? {
        guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}
