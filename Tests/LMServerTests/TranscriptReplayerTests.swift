import LMClient
import LMProtocol
import TestSupport
import XCTest
@testable import LMServer

/// The replayer itself, against an in-process JSON-RPC fake, so that it is known to pass good transcripts
/// and fail bad ones before it judges the daemon.
final class TranscriptReplayerTests: XCTestCase {
    private var folder: URL!
    private var server: SocketServer!
    private var path: String { folder.appendingPathComponent("r.sock").path }

    override func setUpWithError() throws {
        folder = try Fixtures.temporaryDirectory("lmdr")
        server = SocketServer(path: path, service: FakeRPCService(), log: ServerLog(level: .error))
        try server.start(onEnd: { _ in })
    }

    override func tearDownWithError() throws {
        server.close()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Out-of-order responses, notifications, raw invalid JSON, numbers within tolerance, base64 floats.
    static let goodTranscript = """
        {"comment": "replayer self-test", "daemon_args": ["--add-prefix-space"]}
        {"send": {"jsonrpc": "2.0", "id": 1, "method": "slow", "params": {"x": 1}}}
        {"send": {"jsonrpc": "2.0", "id": "b", "method": "count", "params": {"n": 2}}}
        {"send_raw": "{not json"}
        {"send": {"jsonrpc": "2.0", "id": 3, "method": "floats"}}
        {"recv": {"jsonrpc": "2.0", "id": 1, "result": {"x": 1}}}
        {"recv": {"jsonrpc": "2.0", "method": "count/tick", "params": {"id": "b", "i": 0}}}
        {"recv": {"jsonrpc": "2.0", "method": "count/tick", "params": {"id": "b", "i": 1}}}
        {"recv": {"jsonrpc": "2.0", "id": "b", "result": {"n": 2, "half": 0.50003}}}
        {"recv": {"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}}
        {"recv": {"jsonrpc": "2.0", "id": 3, "result": {"logits_base64": "AACAPwAAAEAhAkBA"}}}
        """

    func testAMatchingTranscriptReplaysCleanly() throws {
        let transcript = try ReplayTranscript(name: "good", text: Self.goodTranscript)
        XCTAssertEqual(transcript.daemonArguments, ["--add-prefix-space"])
        XCTAssertEqual(transcript.expected.count, 6)
        XCTAssertEqual(try TranscriptReplayer.replay(transcript, socketPath: path, timeout: 10), [])
    }

    func testEachKindOfMismatchIsReported() throws {
        let cases: [(String, String, String)] = [
            ("\"x\": 1}}}\n{\"recv\"", "\"x\": 2}}}\n{\"recv\"", "response 1.result.x"),
            ("\"half\": 0.50003", "\"half\": 0.6", "half"),
            ("\"i\": 1}}}", "\"i\": 7}}}", "notification 1"),
            ("AACAPwAAAEAhAkBA", "AACAPwAAAEAAAGBA", "logits_base64"),
            ("\"id\": 3, \"result\"", "\"id\": 4, \"result\"", "no response with id 4"),
        ]
        for (original, replacement, mention) in cases {
            let text = Self.goodTranscript.replacingOccurrences(of: original, with: replacement)
            XCTAssertNotEqual(text, Self.goodTranscript, "the mutation \(replacement) applies")
            let problems = try TranscriptReplayer.replay(try ReplayTranscript(name: "bad", text: text), socketPath: path, timeout: 10)
            XCTAssertTrue(problems.contains { $0.contains(mention) }, "\(mention) not reported in \(problems)")
        }
    }

    func testMissingRepliesAreReportedNotWaitedForForever() throws {
        let text = Self.goodTranscript + "\n{\"recv\": {\"jsonrpc\": \"2.0\", \"id\": 99, \"result\": null}}"
        let started = Date()
        let problems = try TranscriptReplayer.replay(try ReplayTranscript(name: "short", text: text), socketPath: path, timeout: 1)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(problems.contains { $0.contains("id 99") }, "\(problems)")
    }

    func testToleranceIsAbsoluteOrRelative() {
        XCTAssertTrue(TranscriptReplayer.closeEnough(1e-5, 5e-5))
        XCTAssertTrue(TranscriptReplayer.closeEnough(20000, 20001))
        XCTAssertFalse(TranscriptReplayer.closeEnough(1, 1.001))
    }
}

/// A JSON-RPC fake: `slow` echoes params after 100 ms, `count` sends n `count/tick` notifications then
/// `{n, half: 0.5}`, `floats` returns `logits_base64` of [1, 2, 3.0001]; invalid JSON gets -32700.
/// `never` gets no answer; `$/cancelRequest` notifications are counted in `cancels`.
final class FakeRPCService: LineService, @unchecked Sendable {
    let cancels = LockedBox<[JSONValue]>([])
    func openLineSession(sink: ReplySink) -> LineSession { FakeRPCSession(sink: sink, service: self) }
    func cancelAll() {}
    func waitUntilIdle() {}
    func setShutdownHandler(_ handler: @escaping @Sendable () -> Void) {}
}

final class FakeRPCSession: LineSession {
    let sink: ReplySink
    weak var service: FakeRPCService?
    init(sink: ReplySink, service: FakeRPCService) { self.sink = sink; self.service = service }
    func close() {}

    func receive(line: [UInt8]) {
        guard let request = try? JSONValue.parse(line), let method = request["method"]?.stringValue else {
            reply(["jsonrpc": "2.0", "id": nil, "error": ["code": -32700, "message": "parse error"]])
            return
        }
        let id = request["id"] ?? .null
        switch method {
        case "slow":
            let sink = self.sink
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) {
                sink.send(line: JSONValue.object(["jsonrpc": "2.0", "id": id, "result": request["params"] ?? .null]).serialized())
            }
        case "count":
            let n = request["params"]?["n"]?.intValue ?? 0
            for i in 0..<n { reply(["jsonrpc": "2.0", "method": "count/tick", "params": ["id": id, "i": .int(i)]]) }
            reply(["jsonrpc": "2.0", "id": id, "result": ["n": .int(n), "half": 0.5]])
        case "never":
            break
        case "$/cancelRequest":
            service?.cancels.withValue { $0.append(request["params"]?["id"] ?? .null) }
        case "floats":
            reply(["jsonrpc": "2.0", "id": id, "result": ["logits_base64": .string(Float32Base64.encode([1, 2, 3.0001] as [Float]))]])
        default:
            reply(["jsonrpc": "2.0", "id": id, "error": ["code": -32601, "message": "no such method"]])
        }
    }

    private func reply(_ value: JSONValue) { sink.send(line: value.serialized()) }
}
