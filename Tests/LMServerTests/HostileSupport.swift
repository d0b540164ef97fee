import Foundation
import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Helpers for tests that send a live lmd what a careless or hostile client would.
extension DaemonTestCase {
    /// Sends `bytes` plus "\n" and returns the next line, parsed (fails the test if the daemon closes instead).
    func exchange(_ connection: LineConnection, raw bytes: [UInt8], timeout: TimeInterval = 30,
                  file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try connection.send(line: bytes)
        let reply = try XCTUnwrap(try connection.readLine(timeout: timeout), "the daemon closed the connection", file: file, line: line)
        return try JSONValue.parse(reply)
    }

    /// Sends the UTF-8 of `text` as one line and returns the next line, parsed.
    func exchange(_ connection: LineConnection, _ text: String, timeout: TimeInterval = 30,
                  file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try exchange(connection, raw: Array(text.utf8), timeout: timeout, file: file, line: line)
    }

    /// A request line as text.
    func requestLine(id: Int, _ method: String, _ params: JSONValue? = nil) -> [UInt8] {
        var message: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { message["params"] = params }
        return JSONValue.object(message).serialized()
    }

    /// Checks that `connection` still answers: `tokenize` of a fixed text gives `expected` ids.
    func assertStillServes(_ connection: LineConnection, expected: [Int], _ context: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let reply = try request(connection, id: 424242, "tokenize", ["text": "still serving"])
        XCTAssertEqual(reply["result"]?["ids"]?.intArray, expected, "after \(context)", file: file, line: line)
    }

    /// The daemon's resident memory in KiB (from /proc), or nil.
    func residentKiB(_ daemon: DaemonProcess) -> Int? {
        procStatus(daemon, "VmRSS")
    }

    /// The daemon's peak resident memory in KiB (from /proc), or nil.
    func peakResidentKiB(_ daemon: DaemonProcess) -> Int? {
        procStatus(daemon, "VmHWM")
    }

    private func procStatus(_ daemon: DaemonProcess, _ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8) else {
            return nil
        }
        for row in text.split(separator: "\n") where row.hasPrefix(key + ":") {
            return Int(row.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Reads lines until the daemon closes the connection (or `timeout`); returns them parsed.
    func readUntilClosed(_ connection: LineConnection, timeout: TimeInterval = 60) throws -> [JSONValue] {
        var messages: [JSONValue] = []
        let deadline = Date().addingTimeInterval(timeout)
        while let line = try connection.readLine(timeout: max(0.01, deadline.timeIntervalSinceNow)) {
            messages.append(try JSONValue.parse(line))
        }
        return messages
    }
}

extension JSONValue {
    /// `error.message` of a response.
    var errorMessage: String { self["error"]?["message"]?.stringValue ?? "" }
}
