import Foundation
import LMEngine
import LMProtocol
import TestSupport
import XCTest

@testable import LMServer

/// The example transcripts in `protocol/examples`: recorded from an in-process dispatcher on the tiny
/// model (`LMD_RECORD=1` rewrites them), and replayed here on every test run the way the transport's
/// replay does against a live lmd: every line sent at once, responses matched by id, notifications and
/// id-less replies by order, numbers within 1e-4.
final class DispatcherTranscriptTests: XCTestCase {
    /// One step of a scenario.
    enum Step {
        /// A JSON message sent as one line; `settle` waits for the server to go idle before the next step
        /// (it only orders the recorded file; the replay sends everything at once).
        case send(JSONValue, settle: Bool = true)
        /// The exact text of a line.
        case sendRaw(String)
    }

    struct Scenario {
        let name: String
        let comment: String
        var daemonArgs: [String] = []
        let steps: [Step]
    }

    static var examplesDirectory: URL { Fixtures.repositoryRoot.appendingPathComponent("protocol/examples") }

    // MARK: scenarios

    static func request(_ id: RPCID, _ method: String, _ params: JSONValue? = nil) -> JSONValue {
        RPCRequest(id: id, method: method, params: params).json
    }

    static func notification(_ method: String, _ params: JSONValue? = nil) -> JSONValue {
        RPCRequest(id: nil, method: method, params: params).json
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "info", comment: "info: the loaded model and the versions; params are ignored", steps: [
            .send(request(1, "info")),
            .send(request(2, "info", ["ignored": true])),
        ]),
        Scenario(name: "tokenize", comment: "tokenize: ids, each token decoded alone, UTF-8 byte offsets", steps: [
            .send(request(1, "tokenize", ["text": "Hello world"])),
            .send(request(2, "tokenize", ["text": "Hello world", "add_prefix_space": true])),
            .send(request(3, "tokenize", ["text": "naïve café 😀"])),
            .send(request(4, "tokenize", ["ids": [40304, 30325, 222]])),
            .send(request(5, "tokenize", ["text": ""])),
        ]),
        Scenario(name: "detokenize", comment: "detokenize: ids decoded together; bytes that are not UTF-8 become U+FFFD", steps: [
            .send(request(1, "detokenize", ["ids": [15496, 995]])),
            .send(request(2, "detokenize", ["ids": [12520, 11805]])),
            .send(request(3, "detokenize", ["ids": []])),
        ]),
        Scenario(name: "forward", comment: "forward: logits rows as JSON numbers or as base64 of little-endian float32", steps: [
            .send(request(1, "forward", ["ids": [15496], "positions": "all"])),
            .send(request(2, "forward", ["text": "Hello world", "positions": "last", "encoding": "base64"])),
        ]),
        Scenario(name: "topk", comment: "topk: the k most likely next tokens; long input keeps its most recent tokens", steps: [
            .send(request(1, "topk", ["text": "The quick brown fox", "k": 5])),
            .send(request(2, "topk", ["ids": [464, 2068], "k": 3])),
            .send(request(3, "topk", ["text": "Hello"])),
            .send(request(4, "topk", ["ids": .ints(Array(repeating: 464, count: 130)), "k": 2])),
            .send(request(5, "topk", ["text": "", "k": 3])),
        ]),
        Scenario(name: "complete", comment: "complete: greedy, stop strings, logprobs, seeded sampling, zero tokens, truncation", steps: [
            .send(request(1, "complete", ["text": "Once upon a time", "max_tokens": 8])),
            .send(request(2, "complete", ["text": "Once upon a time", "max_tokens": 8, "stop": [" Cuomo"]])),
            .send(request(3, "complete", ["text": "Hello", "max_tokens": 3, "logprobs": 2])),
            .send(request(4, "complete", ["text": "Hello", "max_tokens": 8, "temperature": 0.9, "top_k": 40, "top_p": 0.95, "seed": 7])),
            .send(request(5, "complete", ["text": "Hello", "max_tokens": 0])),
            .send(request(6, "complete", ["ids": .ints(Array(repeating: 464, count: 130)), "max_tokens": 2])),
        ]),
        Scenario(name: "suggest", comment: "suggest: completions at the cursor; healing backs off the token the cursor splits", steps: [
            .send(request(1, "suggest", ["text": "I wish I we", "n": 3])),
            .send(request(2, "suggest", ["text": "I wish I we", "n": 3, "heal": false])),
            .send(request(3, "suggest", ["text": "def f(x):", "n": 2, "stop_at": "line", "max_tokens": 4])),
            .send(request(4, "suggest", ["text": "The quick brown", "stop_at": "none", "max_tokens": 3, "n": 1])),
            .send(request(5, "suggest", ["text": "x", "n": 0])),
        ]),
        Scenario(name: "stream", comment: "complete with stream: complete/delta notifications, then the response", steps: [
            .send(request("s1", "complete", ["text": "Streaming", "max_tokens": 6, "stream": true])),
        ]),
        Scenario(name: "cancel", comment: "$/cancelRequest of a queued request: it answers -32800 at once; the running one is unaffected (one model request at a time, so that the second is surely queued)", daemonArgs: ["--max-batch", "1"], steps: [
            .send(request(1, "complete", ["text": "A long story", "max_tokens": 100]), settle: false),
            .send(request(2, "topk", ["text": "queued"]), settle: false),
            .send(notification("$/cancelRequest", ["id": 2]), settle: false),
            .send(notification("$/cancelRequest", ["id": 99])),
        ]),
        Scenario(name: "batch", comment: "batches: one array reply in request order; notifications get nothing (an empty batch: see errors.jsonl)", steps: [
            .send([
                request(1, "info"), request(2, "tokenize", ["text": "Hi"]), notification("tokenize", ["text": "no reply"]),
                5, request(3, "nope"), request(4, "topk", ["text": "Hi", "k": 2]),
            ]),
            .send([notification("$/cancelRequest", ["id": 99])]),
            .send(request(5, "detokenize", ["ids": [17250]])),
        ]),
        Scenario(name: "errors", comment: "every error a client can cause, and the connection staying usable", steps: [
            .sendRaw(#"{"jsonrpc":"2.0","id":1,"method":"info""#),
            .sendRaw(#"{"jsonrpc":"2.0","id":2,"method":"tokenize","params":{"text":"\ud800"}}"#),
            .sendRaw(#"{"jsonrpc":"2.0","id":3,"method":"info"} x"#),
            .send(["id": 4, "method": "info"]),
            .send(["jsonrpc": "2.0", "id": nil, "method": "info"]),
            .sendRaw("[]"),
            .send(request(5, "nope")),
            .send(request(6, "topk", ["text": "a", "k": 0])),
            .send(request(7, "complete", ["text": "a", "ids": [1]])),
            .send(request(8, "forward", ["text": "a", "positions": "some"])),
            .send(request(9, "tokenize", ["ids": [50257]])),
            .send(request(10, "complete", ["text": "a", "temperature": "hot"])),
            .send(request(11, "detokenize", [:])),
            .send(request(12, "info", [1, 2])),
            .send(request(13, "forward", ["ids": .ints(Array(repeating: 464, count: 129))])),
            .send(request(14, "topk", ["text": "a", "k": 50258])),
            .send(notification("tokenize", ["text": "no reply"])),
            .send(request(15, "info")),
        ]),
        Scenario(name: "shutdown", comment: "shutdown answers null, then the daemon finishes in-flight work and exits 0", steps: [
            .send(request(1, "info")),
            .send(request(2, "shutdown")),
        ]),
        Scenario(name: "prefix_space", comment: "a daemon started with --add-prefix-space: the default changes, the param still wins",
                 daemonArgs: ["--add-prefix-space"], steps: [
            .send(request(1, "tokenize", ["text": "Hello"])),
            .send(request(2, "tokenize", ["text": "Hello", "add_prefix_space": false])),
            .send(request(3, "topk", ["text": "Hello", "k": 3])),
        ]),
    ]

    // MARK: running

    static func dispatcher(args: [String]) throws -> Dispatcher {
        var options = DispatcherOptions()
        var rest = args[...]
        while let a = rest.popFirst() {
            switch a {
            case "--add-prefix-space": options.addPrefixSpace = true
            case "--max-batch": options.maxConcurrentModelRequests = Int(rest.popFirst() ?? "") ?? 0
            default: throw NSError(domain: "transcript", code: 1, userInfo: [NSLocalizedDescriptionKey: "unknown daemon arg \(a)"])
            }
        }
        return Dispatcher(engine: try TinyEngine.get(), options: options)
    }

    static func line(of step: Step) -> [UInt8] {
        switch step {
        case let .send(v, _): return v.serialized()
        case let .sendRaw(text): return Array(text.utf8)
        }
    }

    /// Runs a scenario and returns the transcript's lines.
    static func record(_ scenario: Scenario) throws -> [JSONValue] {
        let d = try dispatcher(args: scenario.daemonArgs)
        let sink = CollectingSink()
        let session = d.openSession(sink: sink)
        var header = JSONObject()
        header["comment"] = .string(scenario.comment)
        if !scenario.daemonArgs.isEmpty { header["daemon_args"] = .strings(scenario.daemonArgs) }
        var out: [JSONValue] = [.object(header)]
        var seen = 0
        for step in scenario.steps {
            switch step {
            case let .send(v, _): out.append(["send": v])
            case let .sendRaw(text): out.append(["send_raw": .string(text)])
            }
            session.receive(line: line(of: step))
            if case .send(_, settle: false) = step { continue }
            d.waitUntilIdle()
            let lines = sink.rawLines
            for l in lines[seen...] { out.append(["recv": try JSONValue.parse(l)]) }
            seen = lines.count
        }
        d.waitUntilIdle()
        for l in sink.rawLines[seen...] { out.append(["recv": try JSONValue.parse(l)]) }
        return out
    }

    func testRecordWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["LMD_RECORD"] == "1" else {
            throw XCTSkip("set LMD_RECORD=1 to rewrite protocol/examples")
        }
        try FileManager.default.createDirectory(at: Self.examplesDirectory, withIntermediateDirectories: true)
        for scenario in Self.scenarios {
            let lines = try Self.record(scenario)
            var text: [UInt8] = []
            for l in lines { l.serialize(into: &text); text.append(0x0A) }
            try Data(text).write(to: Self.examplesDirectory.appendingPathComponent("\(scenario.name).jsonl"))
        }
    }

    func testEveryScenarioHasATranscript() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.examplesDirectory.path).filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(Set(files), Set(Self.scenarios.map { "\($0.name).jsonl" }))
        for required in ["info", "tokenize", "detokenize", "forward", "topk", "complete", "suggest", "errors", "batch", "cancel", "stream", "shutdown"] {
            XCTAssertTrue(files.contains("\(required).jsonl"), required)
        }
    }

    func testTranscriptsReplay() throws {
        for scenario in Self.scenarios {
            let url = Self.examplesDirectory.appendingPathComponent("\(scenario.name).jsonl")
            let transcript = try Transcript(contentsOf: url)
            let d = try Self.dispatcher(args: transcript.daemonArgs)
            let sink = CollectingSink()
            let session = d.openSession(sink: sink)
            for line in transcript.sends { session.receive(line: line) }
            d.waitUntilIdle()
            let got = try sink.rawLines.map { try JSONValue.parse($0) }
            let problems = Transcript.compare(expected: transcript.recvs, actual: got)
            XCTAssertEqual(problems, [], "\(scenario.name).jsonl")
        }
    }

    func testTranscriptsMatchTheirScenarios() throws {
        // The sends in the files are exactly what the scenarios send (so a scenario edit needs a re-record).
        for scenario in Self.scenarios {
            let transcript = try Transcript(contentsOf: Self.examplesDirectory.appendingPathComponent("\(scenario.name).jsonl"))
            XCTAssertEqual(transcript.sends, scenario.steps.map(Self.line(of:)), scenario.name)
            XCTAssertEqual(transcript.daemonArgs, scenario.daemonArgs, scenario.name)
        }
    }

    func testTheComparisonCanFail() {
        XCTAssertFalse(Transcript.compare(expected: [["jsonrpc": "2.0", "id": 1, "result": 1.0]],
                                          actual: [["jsonrpc": "2.0", "id": 1, "result": 1.001]]).isEmpty)
        XCTAssertTrue(Transcript.compare(expected: [["jsonrpc": "2.0", "id": 1, "result": 1.0]],
                                         actual: [["jsonrpc": "2.0", "id": 1, "result": 1.00001]]).isEmpty)
        XCTAssertFalse(Transcript.compare(expected: [["id": 1, "result": "a"]], actual: [["id": 2, "result": "a"]]).isEmpty)
        XCTAssertFalse(Transcript.compare(expected: [["id": 1, "result": "a"]], actual: []).isEmpty)
        XCTAssertFalse(Transcript.compare(expected: [["result": ["logits_base64": .string(Float32Base64.encode([1, 2]))]]],
                                          actual: [["result": ["logits_base64": .string(Float32Base64.encode([1, 2.01]))]]]).isEmpty)
    }
}

/// A parsed transcript file and the replay's comparison rules.
struct Transcript {
    var daemonArgs: [String] = []
    var sends: [[UInt8]] = []
    var recvs: [JSONValue] = []

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        for raw in data.split(separator: 0x0A) where !raw.isEmpty {
            let v = try JSONValue.parse(raw)
            if let s = v["send"] {
                sends.append(s.serialized())
            } else if let s = v["send_raw"]?.stringValue {
                sends.append(Array(s.utf8))
            } else if let r = v["recv"] {
                recvs.append(r)
            } else if v["comment"] != nil {
                daemonArgs = v["daemon_args"]?.stringArray ?? []
            } else {
                throw NSError(domain: "transcript", code: 2, userInfo: [NSLocalizedDescriptionKey: "bad line \(v)"])
            }
        }
    }

    /// Responses with an id are matched by id; notifications, and replies with a null id or batch arrays,
    /// by order among themselves (so a transcript has at most one id-less reply whose timing could vary:
    /// immediate ones keep the order of their requests). Returns what differs (empty when they agree).
    static func compare(expected: [JSONValue], actual: [JSONValue]) -> [String] {
        func split(_ lines: [JSONValue]) -> (byID: [JSONValue: JSONValue], notes: [JSONValue], ordered: [JSONValue]) {
            var byID: [JSONValue: JSONValue] = [:], notes: [JSONValue] = [], ordered: [JSONValue] = []
            for l in lines {
                if l["method"] != nil { notes.append(l) } else if let id = l["id"], !id.isNull { byID[id] = l } else { ordered.append(l) }
            }
            return (byID, notes, ordered)
        }
        var problems: [String] = []
        if expected.count != actual.count { problems.append("expected \(expected.count) lines, got \(actual.count)") }
        let e = split(expected), a = split(actual)
        for (id, exp) in e.byID {
            guard let act = a.byID[id] else { problems.append("no response with id \(id)"); continue }
            if let p = difference(exp, act, path: "id \(id)") { problems.append(p) }
        }
        for (k, (x, y)) in zip(e.notes, a.notes).enumerated() { if let p = difference(x, y, path: "notification \(k)") { problems.append(p) } }
        if e.notes.count != a.notes.count { problems.append("expected \(e.notes.count) notifications, got \(a.notes.count)") }
        for (k, (x, y)) in zip(e.ordered, a.ordered).enumerated() { if let p = difference(x, y, path: "id-less reply \(k)") { problems.append(p) } }
        if e.ordered.count != a.ordered.count { problems.append("expected \(e.ordered.count) id-less replies, got \(a.ordered.count)") }
        return problems
    }

    static func difference(_ x: JSONValue, _ y: JSONValue, path: String) -> String? {
        switch (x, y) {
        case let (.object(ox), .object(oy)):
            if Set(ox.keys) != Set(oy.keys) { return "\(path): keys \(ox.keys) vs \(oy.keys)" }
            for (k, vx) in ox {
                if k == "logits_base64", let sx = vx.stringValue, let sy = oy[k]?.stringValue {
                    guard let fx = Float32Base64.decode(sx), let fy = Float32Base64.decode(sy), fx.count == fy.count else {
                        return "\(path).\(k): undecodable or different lengths"
                    }
                    if let i = fx.indices.first(where: { !close(Double(fx[$0]), Double(fy[$0])) }) {
                        return "\(path).\(k)[\(i)]: \(fx[i]) vs \(fy[i])"
                    }
                    continue
                }
                if let d = difference(vx, oy[k] ?? .null, path: "\(path).\(k)") { return d }
            }
            return nil
        case let (.array(ax), .array(ay)):
            if ax.count != ay.count { return "\(path): \(ax.count) elements vs \(ay.count)" }
            for (i, (vx, vy)) in zip(ax, ay).enumerated() { if let d = difference(vx, vy, path: "\(path)[\(i)]") { return d } }
            return nil
        default:
            if let dx = x.doubleValue, let dy = y.doubleValue { return close(dx, dy) ? nil : "\(path): \(x) vs \(y)" }
            return x == y ? nil : "\(path): \(x) vs \(y)"
        }
    }

    static func close(_ a: Double, _ b: Double) -> Bool {
        let diff = abs(a - b)
        return diff <= 1e-4 || diff <= 1e-4 * max(abs(a), abs(b))
    }
}
