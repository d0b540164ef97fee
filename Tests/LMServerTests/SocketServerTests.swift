import LMClient
import LMProtocol
import TestSupport
import XCTest
@testable import LMServer

/// The Unix socket transport, driven in-process with `EchoService` (no model needed).
final class SocketServerTests: XCTestCase {
    private var folder: URL!
    private var path: String { folder.appendingPathComponent("t.sock").path }

    override func setUpWithError() throws {
        folder = try Fixtures.temporaryDirectory("lmdt")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func startServer(
        _ service: EchoService, options: TransportOptions = TransportOptions(), logs: TransportLogCollector = TransportLogCollector()
    ) throws -> SocketServer {
        let server = SocketServer(path: path, service: service, options: options, log: logs.log)
        try server.start(onEnd: { _ in })
        return server
    }

    private func readString(_ connection: LineConnection, timeout: TimeInterval = 10) throws -> String? {
        try connection.readLine(timeout: timeout).map { String(decoding: $0, as: UTF8.self) }
    }

    private func waitFor(_ what: String, timeout: TimeInterval = 10, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(condition(), "timed out waiting for \(what)")
    }

    func testThirtyTwoClientsAtOnceEachGetTheirOwnLinesInOrder() throws {
        let service = EchoService()
        let server = try startServer(service)
        defer { server.close() }
        let clients = 32, perClient = 40
        let failures = NSLock()
        var problems: [String] = []
        DispatchQueue.concurrentPerform(iterations: clients) { c in
            do {
                let connection = try LineConnection(socketPath: path)
                defer { connection.close() }
                var batch: [UInt8] = []
                for j in 0..<perClient { batch += Array("echo client\(c)-line\(j)\n".utf8) }
                try connection.send(raw: batch)
                for j in 0..<perClient {
                    let got = try readString(connection)
                    if got != "client\(c)-line\(j)" {
                        failures.lock(); problems.append("client \(c) line \(j): \(got ?? "EOF")"); failures.unlock()
                        return
                    }
                }
            } catch {
                failures.lock(); problems.append("client \(c): \(error)"); failures.unlock()
            }
        }
        XCTAssertEqual(problems, [])
        XCTAssertEqual(service.openedCount, clients)
        waitFor("all sessions closed") { service.closedCount == clients }
    }

    func testAClientThatNeverReadsIsDroppedWhileOthersAreServed() throws {
        let service = EchoService()
        var options = TransportOptions()
        options.maxOutgoingBytes = 256 << 10
        let logs = TransportLogCollector()
        let server = try startServer(service, options: options, logs: logs)
        defer { server.close() }

        let silent = try LineConnection(socketPath: path)
        defer { silent.close() }
        // Ask for 8 MiB of replies and read none of them.
        try silent.send(raw: Array(String(repeating: "big 1048576\n", count: 8).utf8))

        let other = try LineConnection(socketPath: path)
        defer { other.close() }
        for i in 0..<20 {
            let started = Date()
            try other.send(line: Array("echo ping\(i)".utf8))
            XCTAssertEqual(try readString(other, timeout: 5), "ping\(i)")
            XCTAssertLessThan(Date().timeIntervalSince(started), 1.0, "a non-reading client must not slow others down")
        }
        waitFor("the silent client to be dropped") { logs.text.contains("dropped") }
        waitFor("its session to be closed") { service.closedCount == 1 }
        XCTAssertEqual(server.connectionCount, 1)
        // What it gets now is at most what was already in flight, then the end.
        var received = 0
        while let line = try? silent.readLine(timeout: 5) { received += line.count + 1 }
        XCTAssertLessThan(received, 8 << 20, "the dropped client must not receive everything it asked for")
    }

    func testHangingUpClosesTheSessionAndTheServerGoesOn() throws {
        let service = EchoService()
        let logs = TransportLogCollector()
        let server = try startServer(service, logs: logs)
        defer { server.close() }
        do {
            let leaving = try LineConnection(socketPath: path)
            try leaving.send(line: Array("slow 2000 too-late".utf8))
            leaving.close()
        }
        waitFor("the session to be closed on hang-up") { service.closedCount == 1 }
        XCTAssertTrue(logs.text.contains("disconnected: hung up"), logs.text)
        let next = try LineConnection(socketPath: path)
        defer { next.close() }
        try next.send(line: Array("echo still here".utf8))
        XCTAssertEqual(try readString(next), "still here")
    }

    func testAHalfClosedClientStillGetsItsAnswers() throws {
        let service = EchoService()
        let server = try startServer(service)
        defer { server.close() }
        let connection = try LineConnection(socketPath: path)
        defer { connection.close() }
        try connection.send(raw: Array("slow 200 first\necho second\n".utf8))
        connection.finishSending()
        XCTAssertEqual(try readString(connection), "second")
        XCTAssertEqual(try readString(connection), "first")
    }

    func testAnOverlongLineIsAnsweredAndItsConnectionClosed() throws {
        let service = EchoService()
        var options = TransportOptions()
        options.maxLineLength = 1000
        let logs = TransportLogCollector()
        let server = try startServer(service, options: options, logs: logs)
        defer { server.close() }
        let connection = try LineConnection(socketPath: path)
        defer { connection.close() }
        let exactly = String(repeating: "a", count: 1000)
        try connection.send(line: Array(exactly.utf8))
        XCTAssertEqual(try readString(connection), exactly, "a line of exactly the limit is served")
        try connection.send(line: Array(String(repeating: "b", count: 5000).utf8))
        let reply = try XCTUnwrap(try connection.readLine(timeout: 10))
        let json = try JSONValue.parse(reply)
        XCTAssertEqual(json["error"]?["code"]?.intValue, -32600)
        XCTAssertEqual(json["id"], .null)
        XCTAssertTrue(json["error"]?["message"]?.stringValue?.contains("1000") ?? false, "\(json)")
        XCTAssertNil(try connection.readLine(timeout: 10), "the connection is closed after the reply")
        waitFor("the session to be closed") { service.closedCount == 1 }
        XCTAssertTrue(logs.text.contains("longer than 1000"), logs.text)
        let next = try LineConnection(socketPath: path)
        defer { next.close() }
        try next.send(line: Array("echo fine".utf8))
        XCTAssertEqual(try readString(next), "fine")
    }

    func testSocketIsOwnerOnlyAndRemovedOnClose() throws {
        let server = try startServer(EchoService())
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        server.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testASecondServerOnALiveSocketIsRefused() throws {
        let first = try startServer(EchoService())
        defer { first.close() }
        let second = SocketServer(path: path, service: EchoService(), log: TransportLogCollector().log)
        XCTAssertThrowsError(try second.start(onEnd: { _ in })) { error in
            XCTAssertEqual(error as? TransportError, .alreadyRunning(path: path))
            XCTAssertTrue("\(error)".contains("already listening"))
        }
        // The first one is untouched.
        let connection = try LineConnection(socketPath: path)
        defer { connection.close() }
        try connection.send(line: Array("echo alive".utf8))
        XCTAssertEqual(try readString(connection), "alive")
    }

    func testAStaleSocketFileIsReplaced() throws {
        // A socket file nobody listens on, as a killed daemon leaves behind.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        _ = try SocketPath.withAddress(path) { bind(fd, $0, $1) }
        close(fd)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(SocketPath.isListening(path))
        let logs = TransportLogCollector()
        let server = try startServer(EchoService(), logs: logs)
        defer { server.close() }
        XCTAssertTrue(logs.text.contains("stale"), logs.text)
        XCTAssertTrue(SocketPath.isListening(path))
    }

    func testSomethingElseAtThePathIsLeftAlone() throws {
        _ = FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8))
        let server = SocketServer(path: path, service: EchoService(), log: TransportLogCollector().log)
        XCTAssertThrowsError(try server.start(onEnd: { _ in })) { error in
            XCTAssertEqual(error as? TransportError, .notASocket(path: path))
        }
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data("keep me".utf8))
    }

    func testShutdownRequestFinishesWorkInFlightThenStops() throws {
        let service = EchoService()
        let logs = TransportLogCollector()
        let server = SocketServer(path: path, service: service, log: logs.log)
        let status = LockedBox<Int32?>(nil)
        let thread = Thread {
            status.value = try? ServerRunner.run(server, service: service, log: logs.log, handleSignals: false)
        }
        thread.start()
        waitFor("the server to listen") { SocketPath.isListening(path) }
        let connection = try LineConnection(socketPath: path)
        defer { connection.close() }
        try connection.send(raw: Array("slow 300 finished\nshutdown\n".utf8))
        XCTAssertEqual(try readString(connection), "null")
        XCTAssertEqual(try readString(connection), "finished", "work in flight is finished, not dropped")
        waitFor("the runner to return") { status.value != nil }
        XCTAssertEqual(status.value, 0)
        XCTAssertEqual(service.cancelAllCalls, 0, "a shutdown request lets work finish")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertTrue(logs.text.contains("shutting down (shutdown requested)"), logs.text)
    }

    func testDefaultSocketPathRule() throws {
        XCTAssertEqual(SocketPath.defaultPath(environment: ["XDG_RUNTIME_DIR": "/run/user/42"], uid: 42), "/run/user/42/lmd.sock")
        XCTAssertEqual(SocketPath.defaultPath(environment: [:], uid: 42), "/tmp/lmd-42/lmd.sock")
        XCTAssertEqual(SocketPath.defaultPath(environment: ["XDG_RUNTIME_DIR": ""], uid: 7), "/tmp/lmd-7/lmd.sock")
        let nested = folder.appendingPathComponent("sub").appendingPathComponent("lmd.sock").path
        try SocketPath.prepareDirectory(for: nested)
        var st = stat()
        XCTAssertEqual(stat(folder.appendingPathComponent("sub").path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertThrowsError(try SocketPath.validate("/tmp/" + String(repeating: "x", count: 200)))
    }
}

/// A value shared between a test and a thread it started.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
    /// Read-modify-write under one lock (`value[k] = v` through the getter and setter could lose updates).
    func withValue<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&stored) }
}
