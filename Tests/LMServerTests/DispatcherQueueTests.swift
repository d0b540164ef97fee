import Foundation
import LMEngine
import LMProtocol
import TestSupport
import XCTest

@testable import LMServer

/// The serial work queue: cancellation of queued and running work, limits, closing, shutdown. Model work
/// is held at a gate so that "running" and "queued" are set up, not raced for.
final class DispatcherQueueTests: XCTestCase {
    var gate: GatedEngine!

    override func setUpWithError() throws {
        gate = GatedEngine(try TinyEngine.get())
    }

    override func tearDown() {
        gate?.release()
    }

    /// Queueing is tested with one model request at a time, so that a held request keeps the rest queued.
    private func make(_ configure: (inout DispatcherOptions) -> Void = { _ in }) -> (Dispatcher, CollectingSink, DispatcherSession) {
        var options = DispatcherOptions()
        options.maxConcurrentModelRequests = 1
        configure(&options)
        let d = Dispatcher(backend: gate, options: options)
        let s = CollectingSink()
        return (d, s, d.openSession(sink: s))
    }

    func testOneRequestComputesAtATime() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        session.request(2, "topk", ["text": "b"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertFalse(gate.waitUntilStarted(2, timeout: 0.1), "the second waits for the first")
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.response(1)?.result)
        XCTAssertNotNil(s.response(2)?.result)
    }

    func testModelRequestsRunSideBySideUpToTheLimitSoTheEngineCanBatchThem() throws {
        let (d, s, session) = make { $0.maxConcurrentModelRequests = 2 }
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        session.request(2, "topk", ["text": "b"])
        session.request(3, "topk", ["text": "c"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        XCTAssertTrue(gate.waitUntilStarted(2), "the second runs beside the first")
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertFalse(gate.waitUntilStarted(3, timeout: 0.1), "the third waits for a free slot")
        gate.release()
        d.waitUntilIdle()
        for id in [1, 2, 3] as [RPCID] { XCTAssertNotNil(s.response(id)?.result, "request \(id)") }
    }

    func testInfoAndTokenizeDoNotWaitBehindModelWork() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request(1, "complete", ["text": "a", "max_tokens": 4])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "info")
        XCTAssertNotNil(s.response(2, timeout: 5)?.result)
        session.request(3, "tokenize", ["text": "x"])
        XCTAssertNotNil(s.response(3, timeout: 5)?.result)
        XCTAssertEqual(s.count, 2, "the completion is still held")
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.response(1)?.result)
    }

    func testCancellingAQueuedRequestAnswersAtOnce() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "topk", ["text": "b"])
        session.notify("$/cancelRequest", ["id": 2])
        let cancelled = try XCTUnwrap(s.response(2, timeout: 5))
        XCTAssertEqual(cancelled.errorCode, -32800)
        XCTAssertEqual(s.count, 1, "answered while the first is still held")
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.response(1)?.result)
        XCTAssertEqual(s.count, 2)
        XCTAssertFalse(gate.waitUntilStarted(2, timeout: 0.2), "the cancelled request never reached the engine")
    }

    func testCancellingARunningRequest() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request("r", "complete", ["text": "a", "max_tokens": 50])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.notify("$/cancelRequest", ["id": "r"])
        let e = try XCTUnwrap(s.response("r"))
        XCTAssertEqual(e.errorCode, -32800)
        XCTAssertTrue(gate.wasCancelled)
        XCTAssertEqual(e["error"]?["data"]?["partial"]?["finish_reason"], "cancelled")
        d.waitUntilIdle()
    }

    func testCancellingAStreamingCompletionOnTheRealEngine() throws {
        // No gate: the engine itself must notice the flag between tokens.
        let d = Dispatcher(engine: try TinyEngine.get())
        let s = CollectingSink()
        let session = d.openSession(sink: s)
        session.request(1, "complete", ["text": "a", "max_tokens": 120, "stream": true])
        s.wait(for: 1)
        session.notify("$/cancelRequest", ["id": 1])
        let e = try XCTUnwrap(s.response(1))
        XCTAssertEqual(e.errorCode, -32800)
        let deltas = s.values.filter { $0["method"] == "complete/delta" }.count
        XCTAssertLessThan(deltas, 120)
        let partial = e["error"]?["data"]?["partial"]?["ids"]?.arrayValue?.count ?? -1
        XCTAssertGreaterThanOrEqual(partial, 1)
    }

    func testCancellingAsARequestAnswersNull() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "$/cancelRequest", ["id": 1])
        XCTAssertEqual(s.response(2)?.result, .null)
        XCTAssertEqual(s.response(1)?.errorCode, -32800)
        session.request(3, "$/cancelRequest", ["id": "unknown"])
        XCTAssertEqual(s.response(3)?.result, .null, "unknown ids are ignored")
        session.request(4, "$/cancelRequest", ["id": nil])
        XCTAssertEqual(s.response(4)?.errorCode, -32602)
        d.waitUntilIdle()
    }

    func testCancelOnlyReachesTheSameConnection() throws {
        let (d, s1, one) = make()
        let s2 = CollectingSink()
        let two = d.openSession(sink: s2)
        gate.hold()
        one.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        two.notify("$/cancelRequest", ["id": 1])
        gate.release()
        XCTAssertNotNil(s1.response(1)?.result)
        d.waitUntilIdle()
    }

    func testPerConnectionQueueLimit() throws {
        let (d, s, session) = make { $0.maxQueuedPerSession = 2 }
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "topk", ["text": "b"])
        session.request(3, "forward", ["text": "c", "positions": "last"])
        session.request(4, "topk", ["text": "d"])
        let busy = try XCTUnwrap(s.response(4, timeout: 5))
        XCTAssertEqual(busy.errorCode, -32000)
        XCTAssertEqual(busy["error"]?["data"]?["limit"], 2)
        XCTAssertEqual(busy["error"]?["data"]?["scope"], "connection")
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.response(1)?.result)
        XCTAssertNotNil(s.response(2)?.result)
        XCTAssertNotNil(s.response(3)?.result)
        session.request(5, "topk", ["text": "e"])
        XCTAssertNotNil(s.response(5)?.result, "room again once the queue drained")
    }

    func testTotalQueueLimit() throws {
        let (d, s1, one) = make { $0.maxQueuedTotal = 1 }
        let s2 = CollectingSink()
        let two = d.openSession(sink: s2)
        gate.hold()
        one.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        one.request(2, "topk", ["text": "b"])
        two.request(1, "topk", ["text": "c"])
        let busy = try XCTUnwrap(s2.response(1, timeout: 5))
        XCTAssertEqual(busy.errorCode, -32000)
        XCTAssertEqual(busy["error"]?["data"]?["scope"], "server")
        XCTAssertEqual(busy["error"]?["data"]?["limit"], 1)
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s1.response(2)?.result)
    }

    func testClosingASessionCancelsItsWorkAndSendsNothing() throws {
        let (d, s, session) = make()
        let s2 = CollectingSink()
        let other = d.openSession(sink: s2)
        gate.hold()
        session.request(1, "complete", ["text": "a", "max_tokens": 30, "stream": true])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "topk", ["text": "b"])
        other.request(9, "topk", ["text": "c"])
        session.close()
        gate.release()
        d.waitUntilIdle()
        XCTAssertTrue(gate.wasCancelled, "the running request saw its flag")
        XCTAssertEqual(s.count, 0, "nothing is sent after close")
        XCTAssertNotNil(s2.response(9)?.result, "other connections are unaffected")
        session.request(3, "info")
        XCTAssertEqual(s.count, 0)
    }

    func testAPeerThatStopsReadingIsClosed() throws {
        let (d, s, session) = make()
        s.refuse()
        session.request(1, "complete", ["text": "a", "max_tokens": 100, "stream": true])
        d.waitUntilIdle()
        let deltas = s.values.filter { $0["method"] == "complete/delta" }.count
        XCTAssertEqual(deltas, 1, "the first failed send closes the session and cancels the work")
    }

    func testCancelAll() throws {
        let (d, s, session) = make()
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "forward", ["text": "b"])
        session.request(3, "complete", ["text": "c"])
        d.cancelAll()
        d.waitUntilIdle()
        XCTAssertEqual([1, 2, 3].map { s.response(.int($0))?.errorCode }, [-32800, -32800, -32800])
        XCTAssertTrue(s.response(2)?["error"]?["message"]?.stringValue?.contains("stopping") ?? false)
    }

    func testShutdownRepliesThenCallsTheHook() throws {
        let (d, s, session) = make()
        let seen = LogCollector()
        let called = expectation(description: "hook")
        d.onShutdownRequested = { seen.append("hook after \(s.count) lines"); called.fulfill() }
        gate.hold()
        session.request(1, "topk", ["text": "a"])
        XCTAssertTrue(gate.waitUntilStarted(1))
        session.request(2, "shutdown")
        XCTAssertEqual(s.response(2, timeout: 5)?.result, .null, "answered without waiting for the running request")
        wait(for: [called], timeout: 5)
        XCTAssertEqual(seen.lines, ["hook after 1 lines"])
        XCTAssertTrue(d.isShuttingDown)
        session.request(3, "topk", ["text": "late"])
        XCTAssertEqual(s.response(3)?.errorCode, -32000)
        session.request(4, "info")
        XCTAssertNotNil(s.response(4)?.result)
        gate.release()
        d.waitUntilIdle()
        XCTAssertNotNil(s.response(1)?.result, "in-flight work still finishes")
        session.request(5, "shutdown")
        XCTAssertEqual(s.response(5)?.result, .null)
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(seen.lines.count, 1, "the hook is called once")
    }

    func testShutdownInABatchCallsTheHookAfterTheBatchReply() throws {
        let (d, s, session) = make()
        let seen = LogCollector()
        let called = expectation(description: "hook")
        // A hook that waits for idleness, as the transport's may, must not deadlock the lane that sends
        // the batch's reply (the topk below finishes last, on the model lane).
        d.onShutdownRequested = { d.waitUntilIdle(); seen.append("hook after \(s.count) lines"); called.fulfill() }
        session.send([
            ["jsonrpc": "2.0", "id": 1, "method": "topk", "params": ["text": "a", "k": 1]],
            ["jsonrpc": "2.0", "id": 2, "method": "shutdown"],
            ["jsonrpc": "2.0", "id": 3, "method": "topk", "params": ["text": "b", "k": 1]],
        ])
        wait(for: [called], timeout: 10)
        let batch = try XCTUnwrap(s.wait(for: 1)[0].arrayValue)
        XCTAssertNotNil(batch[0].result, "work accepted before shutdown finishes")
        XCTAssertEqual(batch[1].result, .null)
        XCTAssertEqual(batch[2].errorCode, -32000, "work after shutdown is refused")
        XCTAssertEqual(seen.lines, ["hook after 1 lines"])
    }

    func testWaitUntilIdleWaitsForReplies() throws {
        let (d, s, session) = make()
        for i in 0..<5 { session.request(.int(i), "topk", ["text": .string("t\(i)"), "k": 2]) }
        d.waitUntilIdle()
        XCTAssertEqual(s.count, 5)
    }
}
