import LMClient
import LMProtocol
import TestSupport
import XCTest
@testable import LMServer

/// The client library against an in-process JSON-RPC fake: id matching, notifications, errors, timeouts.
final class LMClientTests: XCTestCase {
    private var folder: URL!
    private var server: SocketServer!
    private let service = FakeRPCService()
    private var path: String { folder.appendingPathComponent("c.sock").path }

    override func setUpWithError() throws {
        folder = try Fixtures.temporaryDirectory("lmdc")
        server = SocketServer(path: path, service: service, log: ServerLog(level: .error))
        try server.start(onEnd: { _ in })
    }

    override func tearDownWithError() throws {
        server.close()
        try? FileManager.default.removeItem(at: folder)
    }

    func testConcurrentCallsAreMatchedById() throws {
        let client = try LMClient(socketPath: path)
        defer { client.close() }
        let results = LockedBox<[Int: JSONValue]>([:])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            // `slow` answers 100 ms later, so the answers of the 16 calls cross on the connection.
            if let value = try? client.call("slow", params: ["n": .int(i)]) { results.withValue { $0[i] = value } }
        }
        XCTAssertEqual(results.value.count, 16)
        for (i, value) in results.value { XCTAssertEqual(value, ["n": .int(i)]) }
    }

    func testNotificationsGoToTheirCallBeforeItReturns() throws {
        let client = try LMClient(socketPath: path)
        defer { client.close() }
        let seen = LockedBox<[Int]>([])
        let result = try client.call("count", params: ["n": 3], onNotification: { note in
            seen.withValue { $0.append(note.params["i"]?.intValue ?? -1) }
        })
        XCTAssertEqual(result["n"], 3)
        XCTAssertEqual(seen.value, [0, 1, 2])
    }

    func testErrorsAreTyped() throws {
        XCTAssertThrowsError(try LMClient(socketPath: folder.appendingPathComponent("none.sock").path)) { error in
            guard case .notRunning? = error as? LMClientError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("not running"))
        }
        let client = try LMClient(socketPath: path)
        defer { client.close() }
        XCTAssertThrowsError(try client.call("nope")) { error in
            XCTAssertEqual(error as? LMClientError, .rpc(code: -32601, message: "no such method", data: nil))
        }
        let started = Date()
        XCTAssertThrowsError(try client.call("never", timeout: 0.3)) { error in
            XCTAssertEqual(error as? LMClientError, .timedOut(method: "never", seconds: 0.3))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        let deadline = Date().addingTimeInterval(5)
        while service.cancels.value.isEmpty && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(service.cancels.value.count, 1, "a timed-out call is cancelled on the daemon")
        XCTAssertEqual(try client.call("slow", params: [1]), [1], "the client still works after a timeout")
    }

    func testLosingTheConnectionFailsWaitingCalls() throws {
        let client = try LMClient(socketPath: path)
        defer { client.close() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { self.server.close() }
        XCTAssertThrowsError(try client.call("never", timeout: 10)) { error in
            XCTAssertEqual(error as? LMClientError, .connectionLost)
        }
        XCTAssertThrowsError(try client.call("slow")) { error in
            XCTAssertEqual(error as? LMClientError, .connectionLost)
        }
    }
}
