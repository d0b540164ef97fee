import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Shared set-up for tests that run the real `lmd`: a fresh folder and socket path per test.
class DaemonTestCase: XCTestCase {
    var folder: URL!
    var socketPath: String { folder.appendingPathComponent("lmd.sock").path }

    override func setUpWithError() throws {
        folder = try Fixtures.temporaryDirectory("lmdd")
        XCTAssertTrue(
            FileManager.default.isExecutableFile(atPath: Products.executable("lmd").path),
            "lmd is built next to the tests (\(Products.directory.path))")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts lmd on this test's socket with the tiny model.
    func startDaemon(_ extra: [String] = [], socket: String? = nil) throws -> DaemonProcess {
        try DaemonProcess.start(socketPath: socket ?? socketPath, extraArguments: ["--log-level", "debug"] + extra)
    }

    /// Sends one request line on a raw connection.
    func send(_ connection: LineConnection, id: JSONValue, method: String, params: JSONValue? = nil) throws {
        var message: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
        if let params { message["params"] = params }
        try connection.send(line: JSONValue.object(message).serialized())
    }

    /// Reads messages until the response with `id`; returns the notifications seen first and the response.
    func readUntilResponse(_ connection: LineConnection, id: JSONValue, timeout: TimeInterval = 30) throws -> (notifications: [JSONValue], response: JSONValue) {
        var notifications: [JSONValue] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let line = try connection.readLine(timeout: max(0.01, deadline.timeIntervalSinceNow)) else {
                throw DaemonProcessError.closed
            }
            let message = try JSONValue.parse(line)
            if message["method"] != nil && message["id"] == nil {
                notifications.append(message)
            } else if message["id"] == id {
                return (notifications, message)
            }
        }
    }

    /// One request on a raw connection: its response.
    func request(_ connection: LineConnection, id: Int, _ method: String, _ params: JSONValue? = nil) throws -> JSONValue {
        try send(connection, id: .int(id), method: method, params: params)
        return try readUntilResponse(connection, id: .int(id)).response
    }

    /// Waits for `condition`, failing the test on timeout.
    func waitFor(_ what: String, timeout: TimeInterval = 20, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(condition(), "timed out waiting for \(what)")
    }
}

extension DaemonProcessError {
    static let closed = DaemonProcessError("the daemon closed the connection")
}
