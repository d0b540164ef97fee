import Foundation
import LMEngine
import LMProtocol
import TestSupport
import XCTest

@testable import LMServer

/// Framing-level behaviour: every error code, batches and notifications.
final class DispatcherProtocolTests: XCTestCase {
    var dispatcher: Dispatcher!
    var sink: CollectingSink!
    var session: DispatcherSession!

    override func setUpWithError() throws {
        dispatcher = Dispatcher(engine: try TinyEngine.get())
        sink = CollectingSink()
        session = dispatcher.openSession(sink: sink)
    }

    private func raw(_ text: String) { session.receive(line: Array(text.utf8)) }

    func testParseErrorKeepsTheConnectionUsable() throws {
        raw(#"{"jsonrpc":"2.0","id":1,"method":"info""#)
        let e = sink.wait(for: 1)[0]
        XCTAssertEqual(e["id"], .null)
        XCTAssertEqual(e.errorCode, -32700)
        XCTAssertNotNil(e["error"]?["data"]?["offset"]?.intValue)
        session.receive(line: [0x7B, 0xFF, 0x7D])  // invalid UTF-8
        XCTAssertEqual(sink.wait(for: 2)[1].errorCode, -32700)
        raw(#"{"jsonrpc":"2.0","id":1,"method":"$/cancelRequest","params":{"id":"\ud800"}}"#)
        XCTAssertEqual(sink.wait(for: 3)[2].errorCode, -32700, "lone surrogates are refused at parse time")
        session.request(2, "info")
        XCTAssertNotNil(sink.response(2)?.result)
    }

    func testInvalidRequestKeepsItsId() {
        raw(#"{"id":7,"method":"info"}"#)
        raw(#"{"jsonrpc":"2.0","id":"x","method":5}"#)
        raw(#"{"jsonrpc":"2.0","id":null,"method":"info"}"#)
        raw(#"{"jsonrpc":"2.0","id":9,"method":"info","params":3}"#)
        raw("42")
        let lines = sink.wait(for: 5)
        XCTAssertEqual(lines.map(\.errorCode), [-32600, -32600, -32600, -32600, -32600])
        XCTAssertEqual(lines.map { $0["id"] }, [7, "x", .null, 9, .null])
    }

    func testMethodNotFound() {
        session.request(1, "nope")
        XCTAssertEqual(sink.response(1)?.errorCode, -32601)
        XCTAssertEqual(sink.response(1)?["error"]?["data"]?["method"], "nope")
    }

    func testInvalidParamsNameTheParam() {
        session.request(1, "topk", ["text": "a", "k": 0])
        session.request(2, "complete", ["text": "a", "ids": [1]])
        session.request(3, "forward", ["ids": [1, 99999]])
        session.request(4, "complete", ["text": "a", "top_p": 0])
        session.request(5, "tokenize", [1, 2])
        let names = [1, 2, 3, 4, 5].map { id in sink.response(.int(id))?["error"]?["data"]?["param"] }
        XCTAssertEqual(names, ["k", "text", "ids[1]", "top_p", "params"])
        XCTAssertTrue([1, 2, 3, 4, 5].allSatisfy { sink.response(.int($0))?.errorCode == -32602 })
    }

    func testInternalErrorFromAFailingHandler() throws {
        struct Boom: Error {}
        let failing = MethodSpec(name: "boom", runsAsNotification: false) { _, _ throws(RPCError) in
            .queued(.model, inputParam: "text") { _ in throw Boom() }
        }
        let logged = LogCollector()
        let d = Dispatcher(backend: try TinyEngine.get(), log: logged.append, methods: MethodTable.all + [failing])
        let s = CollectingSink()
        d.openSession(sink: s).request(1, "boom")
        let e = try XCTUnwrap(s.response(1))
        XCTAssertEqual(e.errorCode, -32603)
        XCTAssertTrue(e["error"]?["message"]?.stringValue?.contains("Boom") ?? false)
        XCTAssertTrue(logged.lines.contains { $0.contains("boom") })
    }

    func testEngineErrorsMapAtTheEdge() {
        XCTAssertEqual(EngineErrorMapping.rpcError(EngineError.invalidTokenId(60000, vocabSize: 50257), inputParam: "ids").code, -32602)
        let long = EngineErrorMapping.rpcError(EngineError.contextTooLong(length: 200, limit: 128), inputParam: "text")
        XCTAssertEqual(long.code, -32602)
        XCTAssertEqual(long.data?["param"], "text")
        XCTAssertEqual(long.data?["length"], 200)
        XCTAssertEqual(EngineErrorMapping.rpcError(EngineError.invalidArgument(name: "k", reason: "too big"), inputParam: "ids").data?["param"], "k")
        XCTAssertEqual(EngineErrorMapping.rpcError(EngineError.cancelled, inputParam: "ids").code, -32800)
        XCTAssertEqual(EngineErrorMapping.rpcError(CocoaError(.fileNoSuchFile), inputParam: "ids").code, -32603)
    }

    func testNotificationsGetNoReply() {
        session.notify("tokenize", ["text": "a"])
        session.notify("nope")
        session.notify("$/cancelRequest", ["id": 12345])
        session.notify("$/cancelRequest", ["id": 1.5])
        session.request(1, "info")
        XCTAssertNotNil(sink.response(1))
        dispatcher.waitUntilIdle()
        XCTAssertEqual(sink.count, 1)
    }

    func testBatch() throws {
        let batch: JSONValue = [
            ["jsonrpc": "2.0", "id": 1, "method": "tokenize", "params": ["text": "Hi"]],
            ["jsonrpc": "2.0", "method": "tokenize", "params": ["text": "ignored"]],
            5,
            ["jsonrpc": "2.0", "id": 2, "method": "nope"],
            ["jsonrpc": "2.0", "id": 3, "method": "info"],
            ["jsonrpc": "2.0", "id": 4, "method": "topk", "params": ["text": "Hi", "k": 2]],
        ]
        session.send(batch)
        let reply = try XCTUnwrap(sink.wait(for: 1).first?.arrayValue)
        XCTAssertEqual(reply.count, 5, "one reply per request and per invalid element; none for the notification")
        XCTAssertEqual(reply.map { $0["id"] }, [1, .null, 2, 3, 4], "in request order")
        XCTAssertEqual(reply[0].result?["ids"], [17250])
        XCTAssertEqual(reply[1].errorCode, -32600)
        XCTAssertEqual(reply[2].errorCode, -32601)
        XCTAssertEqual(reply[3].result?["vocab_size"], 50257)
        XCTAssertEqual(reply[4].result?["ids"]?.arrayValue?.count, 2)
        dispatcher.waitUntilIdle()
        XCTAssertEqual(sink.count, 1)
    }

    func testEmptyBatchAndNotificationOnlyBatch() {
        raw("[]")
        let e = sink.wait(for: 1)[0]
        XCTAssertEqual(e.errorCode, -32600)
        XCTAssertEqual(e["id"], .null)
        XCTAssertNil(e.arrayValue, "a single error, not an array")
        session.send([["jsonrpc": "2.0", "method": "tokenize", "params": ["text": "a"]], ["jsonrpc": "2.0", "method": "nope"]])
        session.request(1, "info")
        XCTAssertNotNil(sink.response(1))
        dispatcher.waitUntilIdle()
        XCTAssertEqual(sink.count, 2, "a batch of notifications gets nothing")
        raw("[1,2]")
        let invalid = sink.wait(for: 3)[2].arrayValue
        XCTAssertEqual(invalid?.map(\.errorCode), [-32600, -32600])
    }

    func testStreamingInsideABatch() throws {
        session.send([
            ["jsonrpc": "2.0", "id": "a", "method": "complete", "params": ["text": "Hi", "max_tokens": 3, "stream": true]],
            ["jsonrpc": "2.0", "id": "b", "method": "info"],
        ])
        dispatcher.waitUntilIdle()
        let lines = sink.values
        let batch = try XCTUnwrap(lines.last?.arrayValue)
        XCTAssertEqual(batch.map { $0["id"] }, ["a", "b"])
        let deltas = lines.dropLast().filter { $0["method"] == "complete/delta" }
        XCTAssertEqual(deltas.flatMap { $0["params"]?["ids"]?.intArray ?? [] }, batch[0].result?["ids"]?.intArray)
    }

    func testDamagedLinesNeverCrashAndAlwaysGetWellFormedReplies() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("protocol/examples")
        var seeds: [[UInt8]] = []
        for name in ["info", "tokenize", "detokenize", "topk", "errors", "batch"] {
            seeds += try Transcript(contentsOf: dir.appendingPathComponent("\(name).jsonl")).sends.filter { $0.count < 2000 }
        }
        var rng = SystemRandomNumberGenerator()
        let interesting: [UInt8] = Array(#"{}[]",:0-9e."\u"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xFF]
        for _ in 0..<1500 {
            var line = seeds.randomElement(using: &rng) ?? []
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: if !line.isEmpty { line[Int.random(in: 0..<line.count, using: &rng)] = interesting.randomElement(using: &rng)! }
            case 1: line = Array(line.prefix(Int.random(in: 0...line.count, using: &rng)))
            default: if !line.isEmpty { line.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0..<line.count, using: &rng)) }
            }
            session.receive(line: line)
        }
        dispatcher.waitUntilIdle()
        let known: Set<Int> = [-32700, -32600, -32601, -32602, -32800, -32000]
        for raw in sink.rawLines {
            XCTAssertFalse(raw.contains(0x0A))
            let v = try JSONValue.parse(raw)
            for m in v.arrayValue ?? [v] where m["method"] == nil {
                XCTAssertEqual(m["jsonrpc"], "2.0")
                if let code = m.errorCode { XCTAssertTrue(known.contains(code), "\(m)") } else { XCTAssertNotNil(m.result, "\(m)") }
            }
        }
        XCTAssertGreaterThan(sink.count, 500)
    }

    func testDuplicateIdInFlightIsRefused() throws {
        let gate = GatedEngine(try TinyEngine.get())
        let d = Dispatcher(backend: gate)
        let s = CollectingSink()
        let session = d.openSession(sink: s)
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(1, "topk", ["text": "b"])
        let dup = s.wait(for: 1)[0]
        XCTAssertEqual(dup.errorCode, -32600)
        XCTAssertEqual(dup["id"], 1)
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.values.last?.result)
        session.request(1, "topk", ["text": "c"])
        d.waitUntilIdle()
        XCTAssertNotNil(s.values.last?.result, "an id is free again once answered")
    }
}

/// Collects log lines.
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var append: @Sendable (String) -> Void { { [self] line in lock.lock(); stored.append(line); lock.unlock() } }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
