import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Every method of a real lmd over its socket, checked against HF's outputs for the tiny model.
final class DaemonMethodTests: DaemonTestCase {
    private static let eos = 50256

    func testEveryMethodMatchesTheReferenceOutputs() throws {
        let daemon = try startDaemon()
        let client = try LMClient(socketPath: socketPath, timeout: 60)
        defer { client.close() }

        let info = try client.call("info")
        XCTAssertEqual(info["model"]?.stringValue, "tiny-gpt2")
        XCTAssertEqual(info["vocab_size"]?.intValue, 50257)
        XCTAssertEqual(info["n_positions"]?.intValue, 128)
        XCTAssertEqual(info["n_layer"]?.intValue, 2)
        XCTAssertEqual(info["eos_token_id"]?.intValue, Self.eos)

        var worstLogit: Float = 0, worstProb: Float = 0
        for c in try Expected.cases() where !c.addPrefixSpace {
            let text = JSONValue.string(c.prompt)
            let tokens = try client.call("tokenize", params: ["text": text])
            XCTAssertEqual(tokens["ids"]?.intArray, c.ids, c.label)
            XCTAssertEqual(tokens["tokens"]?.arrayValue?.count, c.ids.count, c.label)
            XCTAssertEqual(tokens["offsets"]?.arrayValue?.count, c.ids.count, c.label)

            let decoded = try client.call("detokenize", params: ["ids": .ints(c.ids)])
            XCTAssertEqual(decoded["text"]?.stringValue, c.prompt, c.label)

            let top = try client.call("topk", params: ["text": text, "k": 20])
            XCTAssertEqual(top["ids"]?.intArray, c.top20Ids, c.label)
            XCTAssertEqual(top["tokens"]?.stringArray, c.top20Tokens, c.label)
            let probs = try XCTUnwrap(top["probs"]?.floatArray, c.label)
            for (p, q) in zip(probs, c.top20Probs) { worstProb = max(worstProb, abs(p - q)) }

            let forward = try client.call(
                "forward", params: ["text": text, "positions": .string(c.logitsPositions), "encoding": "base64"])
            XCTAssertEqual(forward["shape"]?.intArray, [c.logitRows, 50257], c.label)
            let logits = try XCTUnwrap(forward["logits_base64"]?.stringValue.flatMap(TranscriptReplayer.decodeFloats), c.label)
            XCTAssertEqual(logits.count, c.logits.count, c.label)
            for (a, b) in zip(logits, c.logits) { worstLogit = max(worstLogit, abs(a - b)) }

            let completion = try client.call("complete", params: ["text": text, "max_tokens": 16])
            // The reference did not stop at end-of-text; the daemon does.
            let expectedIds = Array(c.greedyIds.prefix { $0 != Self.eos })
            XCTAssertEqual(completion["ids"]?.intArray, expectedIds, c.label)
            XCTAssertEqual(completion["finish_reason"]?.stringValue, expectedIds.count == 16 ? "length" : "eos", c.label)
        }
        print("daemon vs reference: max |logit difference| \(worstLogit), max |prob difference| \(worstProb)")
        XCTAssertLessThan(worstLogit, 1e-3)
        XCTAssertLessThan(worstProb, 1e-4)
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testAddPrefixSpaceReachesTheDispatcher() throws {
        let daemon = try startDaemon(["--add-prefix-space"])
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        for c in try Expected.cases() where c.addPrefixSpace {
            XCTAssertEqual(try client.call("tokenize", params: ["text": .string(c.prompt)])["ids"]?.intArray, c.ids, c.label)
        }
        _ = daemon
    }

    func testErrorsCarryTheirCodesAndKeepTheId() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        func errorCode(_ line: String, id: JSONValue) throws -> Int? {
            try connection.send(line: Array(line.utf8))
            return try readUntilResponse(connection, id: id).response["error"]?["code"]?.intValue
        }
        XCTAssertEqual(try errorCode("{not json", id: .null), -32700)
        XCTAssertEqual(try errorCode(#"{"jsonrpc":"1.0","id":5,"method":"info"}"#, id: 5), -32600)
        XCTAssertEqual(try errorCode(#"{"jsonrpc":"2.0","id":6,"method":"no_such_method"}"#, id: 6), -32601)
        XCTAssertEqual(try errorCode(#"{"jsonrpc":"2.0","id":7,"method":"topk","params":{"text":"a","k":0}}"#, id: 7), -32602)
        XCTAssertEqual(try errorCode(#"{"jsonrpc":"2.0","id":"s","method":"detokenize","params":{"ids":[99999999]}}"#, id: "s"), -32602)
        let long = JSONValue.ints(Array(repeating: 464, count: 200))
        try send(connection, id: 8, method: "forward", params: ["ids": long])
        XCTAssertEqual(try readUntilResponse(connection, id: 8).response["error"]?["code"]?.intValue, -32602, "longer than the context")
        // Still serving on the same connection after all that.
        XCTAssertEqual(try request(connection, id: 9, "info")["result"]?["vocab_size"]?.intValue, 50257)

        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertThrowsError(try client.call("topk", params: ["text": "a", "k": 0])) { error in
            guard case let .rpc(code, message, _)? = error as? LMClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(code, -32602)
            XCTAssertTrue(message.contains("k"), message)
        }
        _ = daemon
    }

    func testStreamingDeltasArriveBeforeTheFinalResponse() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        try send(connection, id: 1, method: "complete", params: ["text": "This weekend I plan to", "max_tokens": 8, "stream": true])
        let (notifications, response) = try readUntilResponse(connection, id: 1)
        let result = try XCTUnwrap(response["result"])
        XCTAssertFalse(notifications.isEmpty, "deltas come before the response")
        XCTAssertTrue(notifications.allSatisfy { $0["method"]?.stringValue == "complete/delta" && $0["params"]?["id"] == 1 })
        let streamedIds = notifications.flatMap { $0["params"]?["ids"]?.intArray ?? [] }
        let streamedText = notifications.map { $0["params"]?["text"]?.stringValue ?? "" }.joined()
        XCTAssertEqual(streamedIds, result["ids"]?.intArray)
        XCTAssertEqual(streamedText, result["text"]?.stringValue)

        // The client library hands every delta over before the call returns.
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        let collected = LockedBox<[String]>([])
        let final = try client.call(
            "complete", params: ["text": "I wish I were", "max_tokens": 6, "stream": true],
            onNotification: { note in collected.withValue { $0.append(note.params["text"]?.stringValue ?? "") } })
        XCTAssertFalse(collected.value.isEmpty)
        XCTAssertEqual(collected.value.joined(), final["text"]?.stringValue)
        _ = daemon
    }

    func testCancelAnswersTheCancelledRequest() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        // Enough work ahead of the last request that it is still queued or running when the cancel arrives.
        let count = 24
        var batch: [UInt8] = []
        for id in 1...count {
            let request: JSONValue = [
                "jsonrpc": "2.0", "id": .int(id), "method": "complete",
                "params": ["text": "In a shocking finding", "max_tokens": 120, "stream": true],
            ]
            batch += request.serialized() + [0x0A]
        }
        let cancel: JSONValue = ["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .int(count)]]
        batch += cancel.serialized() + [0x0A]
        try connection.send(raw: batch)
        let response = try readUntilResponse(connection, id: .int(count), timeout: 120).response
        let cancelled =
            response["error"]?["code"]?.intValue == -32800 || response["result"]?["finish_reason"]?.stringValue == "cancelled"
        XCTAssertTrue(cancelled, "the cancelled request answers -32800 or finish_reason cancelled: \(response.description.prefix(300))")
        XCTAssertEqual(try request(connection, id: 1000, "info")["result"]?["n_layer"]?.intValue, 2)
        _ = daemon
    }

    func testThirtyTwoClientsAtOnceEachGetTheirOwnAnswers() throws {
        let daemon = try startDaemon()
        let prompts = (0..<32).map { "Client number \($0) would like to" }
        // The answers one client gets alone, one request at a time.
        let reference = try LMClient(socketPath: socketPath)
        var expected: [(ids: [Int], top: [Int], completion: [Int])] = []
        for prompt in prompts {
            let text = JSONValue.string(prompt)
            expected.append((
                try reference.call("tokenize", params: ["text": text])["ids"]?.intArray ?? [],
                try reference.call("topk", params: ["text": text, "k": 5])["ids"]?.intArray ?? [],
                try reference.call("complete", params: ["text": text, "max_tokens": 6])["ids"]?.intArray ?? []
            ))
        }
        reference.close()
        XCTAssertEqual(Set(expected.map(\.ids)).count, 32, "every client asks something different")

        let problems = LockedBox<[String]>([])
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: prompts.count) { i in
            do {
                let client = try LMClient(socketPath: socketPath, timeout: 120)
                defer { client.close() }
                let text = JSONValue.string(prompts[i])
                let ids = try client.call("tokenize", params: ["text": text])["ids"]?.intArray ?? []
                let top = try client.call("topk", params: ["text": text, "k": 5])["ids"]?.intArray ?? []
                let completion = try client.call("complete", params: ["text": text, "max_tokens": 6])["ids"]?.intArray ?? []
                if ids != expected[i].ids || top != expected[i].top || completion != expected[i].completion {
                    problems.withValue { $0.append("client \(i): \(ids) \(top) \(completion) vs \(expected[i])") }
                }
            } catch {
                problems.withValue { $0.append("client \(i): \(error)") }
            }
        }
        print("32 concurrent clients × 3 requests: \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        XCTAssertEqual(problems.value, [])
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testAClientHangingUpMidRequestLeavesTheDaemonServing() throws {
        let daemon = try startDaemon()
        for round in 0..<5 {
            let leaving = try LineConnection(socketPath: socketPath)
            try send(leaving, id: .int(round), method: "complete", params: ["text": "Hang up on me", "max_tokens": 120, "stream": true])
            if round % 2 == 1 { _ = try leaving.readLine(timeout: 10) }  // sometimes after the first delta
            leaving.close()
        }
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("tokenize", params: ["text": "still alive"])["ids"]?.intArray?.isEmpty, false)
        waitFor("the log to show the hang-ups") { daemon.log.components(separatedBy: "disconnected: hung up").count > 5 }
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testAnOverlongLineGetsInvalidRequestAndItsConnectionIsClosed() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        // 16 MiB + 1 bytes of a (syntactically plausible) request, then the newline.
        var line = Array(#"{"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":""#.utf8)
        line += Array(repeating: UInt8(ascii: "a"), count: (16 << 20) + 1 - line.count - 3)
        line += Array(#""}}"#.utf8)
        XCTAssertEqual(line.count, (16 << 20) + 1)
        try connection.send(line: line)
        let reply = try XCTUnwrap(try connection.readLine(timeout: 30))
        let json = try JSONValue.parse(reply)
        XCTAssertEqual(json["error"]?["code"]?.intValue, -32600)
        XCTAssertTrue(json["error"]?["message"]?.stringValue?.contains("longer than") ?? false, "\(json)")
        XCTAssertNil(try connection.readLine(timeout: 10), "then the connection is closed")
        let other = try LMClient(socketPath: socketPath)
        defer { other.close() }
        XCTAssertEqual(try other.call("info")["n_head"]?.intValue, 4)
        _ = daemon
    }
}
