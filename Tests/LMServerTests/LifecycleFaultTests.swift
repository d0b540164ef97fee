import Foundation
import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Faults in lmd's life: stopped mid-work, killed outright, its model file deleted or truncated under it.
/// (A second daemon on a live socket and a stale socket left by hand are in `DaemonLifecycleTests`.)
final class LifecycleFaultTests: DaemonTestCase {
    func testSIGTERMMidWorkAnswersEveryRequestOnEveryConnectionExactlyOnce() throws {
        // One model request at a time, so that work is still queued when the signal comes.
        let daemon = try startDaemon(["--max-batch", "1"])
        let streaming = try LineConnection(socketPath: socketPath)
        let batching = try LineConnection(socketPath: socketPath)
        let mixed = try LineConnection(socketPath: socketPath)
        defer { [streaming, batching, mixed].forEach { $0.close() } }
        var expected: [ObjectIdentifier: Set<Int>] = [:]
        // Streaming completions, one per line.
        var bytes: [UInt8] = []
        for id in 0..<6 {
            bytes += requestLine(id: id, "complete", ["text": .string("Stream \(id) goes"), "max_tokens": 60, "stream": true]) + [0x0A]
        }
        try streaming.send(raw: bytes)
        expected[ObjectIdentifier(streaming)] = Set(0..<6)
        // A batch of completions and tokenizations: one array back, whatever happens.
        var batch: [UInt8] = [UInt8(ascii: "[")]
        for id in 100..<108 {
            if id > 100 { batch.append(UInt8(ascii: ",")) }
            batch += id % 2 == 0
                ? requestLine(id: id, "complete", ["text": .string("Batch \(id) goes"), "max_tokens": 60])
                : requestLine(id: id, "tokenize", ["text": .string("batch \(id)")])
        }
        batch.append(UInt8(ascii: "]"))
        try batching.send(line: batch)
        expected[ObjectIdentifier(batching)] = Set(100..<108)
        // topk and suggest, one per line.
        bytes = []
        for id in 200..<206 {
            bytes += (id % 2 == 0
                ? requestLine(id: id, "topk", ["text": .string("Mixed \(id)"), "k": 3])
                : requestLine(id: id, "suggest", ["text": .string("Mixed \(id) wor")])) + [0x0A]
        }
        try mixed.send(raw: bytes)
        expected[ObjectIdentifier(mixed)] = Set(200..<206)
        // `info` is answered as it is read: its answer proves every line before it reached the daemon.
        for connection in [streaming, batching, mixed] {
            try send(connection, id: 999, method: "info")
        }
        var early: [ObjectIdentifier: [JSONValue]] = [:]
        for connection in [streaming, batching, mixed] {
            let (notifications, _) = try readUntilResponse(connection, id: 999)
            early[ObjectIdentifier(connection)] = notifications
        }
        daemon.signal(SIGTERM)
        var outcomes: [String: Int] = [:]
        for connection in [streaming, batching, mixed] {
            var messages = early[ObjectIdentifier(connection)] ?? []
            messages += try readUntilClosed(connection)
            var responses: [JSONValue] = []
            for message in messages {
                if let array = message.arrayValue { responses += array } else if message["id"] != nil { responses.append(message) }
            }
            var answered: [Int] = []
            for response in responses {
                guard let id = response["id"]?.intValue, id != 999 else { continue }
                answered.append(id)
                if response["result"] != nil {
                    outcomes["result", default: 0] += 1
                } else {
                    XCTAssertEqual(response.errorCode, -32800, "\(response.description.prefix(300))")
                    outcomes["cancelled", default: 0] += 1
                }
            }
            XCTAssertEqual(answered.sorted(), expected[ObjectIdentifier(connection)]!.sorted(), "each once")
            if connection === batching {
                XCTAssertEqual(messages.filter { $0.arrayValue != nil }.count, 1, "the batch answers in one array")
            }
        }
        print("SIGTERM mid-work: \(outcomes["result"] ?? 0) results and \(outcomes["cancelled"] ?? 0) cancelled, none lost")
        XCTAssertGreaterThan(outcomes["cancelled"] ?? 0, 0, "work was under way when the signal came")
        XCTAssertEqual(daemon.waitForExit(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
        XCTAssertTrue(daemon.log.contains("shutting down (SIGTERM)"), daemon.log)
    }

    func testRepeatedSIGTERMsAlwaysStopTheDaemon() throws {
        // libdispatch's signal sources once missed a SIGTERM now and then; lmd now catches it itself.
        for round in 0..<8 {
            let daemon = try startDaemon(socket: folder.appendingPathComponent("t\(round).sock").path)
            let client = try LMClient(socketPath: daemon.socketPath!)
            XCTAssertEqual(try client.call("tokenize", params: ["text": "stop me"])["ids"]?.intArray?.isEmpty, false)
            if round % 2 == 0 { client.close() }
            daemon.signal(round % 4 == 3 ? SIGINT : SIGTERM)
            XCTAssertEqual(daemon.waitForExit(timeout: 20), 0, "round \(round): \(daemon.log)")
            client.close()
        }
    }

    func testSIGKILLLeavesAStaleSocketThatTheNextStartReplaces() throws {
        let first = try startDaemon()
        XCTAssertEqual(try LMClient(socketPath: socketPath).call("info")["n_layer"]?.intValue, 2)
        first.signal(SIGKILL)
        XCTAssertEqual(first.waitForExit(), 128 + SIGKILL)
        XCTAssertTrue(FileManager.default.fileExists(atPath: socketPath), "a killed daemon cannot remove its socket")
        XCTAssertFalse(DaemonProcess.canConnect(socketPath), "and nobody answers on it")
        let second = try startDaemon()
        XCTAssertTrue(second.log.contains("replacing stale socket \(socketPath)"), second.log)
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("info")["n_layer"]?.intValue, 2)
    }

    /// A copy of the tiny model in this test's folder (so that it can be deleted or damaged).
    private func modelCopy() throws -> URL {
        let copy = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.tinyModel, to: copy)
        return copy
    }

    func testDeletingTheMappedModelFileIsHarmless() throws {
        let model = try modelCopy()
        // No prefix cache: every answer below is computed from the mapped weights again.
        let daemon = try DaemonProcess.start(
            socketPath: socketPath, model: model, extraArguments: ["--prefix-cache-mb", "0", "--log-level", "debug"])
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        let prompts = ["The weights were", "Nobody deleted the", "A file that is gone"]
        let before = try prompts.map { try client.call("complete", params: ["text": .string($0), "max_tokens": 8])["ids"] }
        try FileManager.default.removeItem(at: model)
        XCTAssertFalse(FileManager.default.fileExists(atPath: model.path))
        let maps = (try? String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/maps", encoding: .utf8)) ?? ""
        XCTAssertTrue(maps.contains("model.safetensors (deleted)"), "the mapping outlives the file")
        let after = try prompts.map { try client.call("complete", params: ["text": .string($0), "max_tokens": 8])["ids"] }
        XCTAssertEqual(after, before)
        XCTAssertEqual(try client.call("topk", params: ["text": "Still here", "k": 5])["ids"]?.intArray?.count, 5)
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testTruncatingTheMappedModelFileEndsLmdWithStatus75AndSaysWhy() throws {
        let model = try modelCopy()
        let daemon = try DaemonProcess.start(socketPath: socketPath, model: model, extraArguments: ["--prefix-cache-mb", "0"])
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        XCTAssertEqual(try request(connection, id: 1, "topk", ["text": "Before the damage", "k": 3])["result"]?["ids"]?.intArray?.count, 3)
        // Truncate in place (what a careless copy or a full disk does): the pages under the mapping are gone.
        XCTAssertEqual(truncate(model.appendingPathComponent("model.safetensors").path, 0), 0)
        try send(connection, id: 2, method: "topk", params: ["text": "After the damage", "k": 3])
        XCTAssertNil(try? connection.readLine(timeout: 30), "no answer: the daemon is gone")
        XCTAssertEqual(daemon.waitForExit(), 75)
        XCTAssertTrue(daemon.log.contains("lmd: fatal: SIGBUS (bus error) reading memory-mapped model data"), daemon.log)
        XCTAssertTrue(daemon.log.contains("a model file in \(model.path) was most likely truncated"), daemon.log)
        // The stale socket it leaves is replaced by the next start, with a whole model.
        let next = try startDaemon()
        XCTAssertTrue(next.log.contains("replacing stale socket"), next.log)
        XCTAssertEqual(try LMClient(socketPath: socketPath).call("info")["n_layer"]?.intValue, 2)
    }
}
