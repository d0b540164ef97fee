import Foundation
import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Bad bytes and bad JSON sent to a live lmd over its socket: each gets its clear error on the same
/// connection, which then keeps working.
final class HostileInputTests: DaemonTestCase {
    func testInvalidUTF8IsAParseErrorAndTheConnectionKeepsWorking() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let good = try XCTUnwrap(try request(connection, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        let prefix = Array(#"{"jsonrpc":"2.0","id":7,"method":"tokenize","params":{"text":"ok "#.utf8)
        let suffix = Array(#""}}"#.utf8)
        let cases: [(String, [UInt8])] = [
            ("a lone continuation byte", [0x80]),
            ("a 2-byte sequence cut short", [0xC3]),
            ("a 3-byte sequence cut short", [0xE2, 0x82]),
            ("an overlong '/'", [0xC0, 0xAF]),
            ("an overlong NUL", [0xE0, 0x80, 0x80]),
            ("a surrogate encoded in UTF-8", [0xED, 0xA0, 0x80]),
            ("a code point past U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
            ("0xFE", [0xFE]),
            ("0xFF", [0xFF]),
        ]
        for (what, bad) in cases {
            let reply = try exchange(connection, raw: prefix + bad + suffix)
            XCTAssertEqual(reply.errorCode, -32700, "\(what): \(reply)")
            XCTAssertTrue(reply.errorMessage.contains("invalid UTF-8"), "\(what): \(reply)")
            try assertStillServes(connection, expected: good, what)
        }
        // Outside strings: in a key, and raw bytes where a value should be.
        XCTAssertEqual(try exchange(connection, raw: Array(#"{"jsonrpc":"2.0","id":8,"me"#.utf8) + [0xFF] + Array(#"thod":"info"}"#.utf8)).errorCode, -32700)
        XCTAssertEqual(try exchange(connection, raw: Array(#"{"jsonrpc":"2.0","id":9,"method":"#.utf8) + [0xC3, 0x7D]).errorCode, -32700)
        try assertStillServes(connection, expected: good, "bad bytes outside strings")
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testLoneSurrogateEscapesAreRefusedAndPairsAccepted() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let good = try XCTUnwrap(try request(connection, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        for escape in [#"\ud800"#, #"\udfff"#, #"\ud800\u0041"#, #"\udc00\ud800"#, #"\ud83d"#, #"x\ude00y"#] {
            let reply = try exchange(connection, #"{"jsonrpc":"2.0","id":7,"method":"tokenize","params":{"text":"\#(escape)"}}"#)
            XCTAssertEqual(reply.errorCode, -32700, "\(escape): \(reply)")
            XCTAssertTrue(reply.errorMessage.contains("surrogate"), "\(escape): \(reply)")
            try assertStillServes(connection, expected: good, escape)
        }
        // A proper pair is one character: its tokens decode back to it.
        let pair = try exchange(connection, #"{"jsonrpc":"2.0","id":8,"method":"tokenize","params":{"text":"\ud83d\ude00"}}"#)
        let ids = try XCTUnwrap(pair["result"]?["ids"]?.intArray, "\(pair)")
        let back = try request(connection, id: 9, "detokenize", ["ids": .array(ids.map { .int($0) })])
        XCTAssertEqual(back["result"]?["text"]?.stringValue, "😀", "\(back)")
    }

    func testNesting100000DeepIsRefusedQuicklyWithoutHarm() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let good = try XCTUnwrap(try request(connection, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        let depth = 100_000
        let open = String(repeating: "[", count: depth), close = String(repeating: "]", count: depth)
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        let cases: [(String, String)] = [
            ("arrays", open + close),
            ("objects", objects),
            ("arrays in params", #"{"jsonrpc":"2.0","id":5,"method":"tokenize","params":{"text":"# + open + close + "}}"),
            ("unclosed arrays", open),
            ("a batch of deep requests", "[" + String(repeating: open + close + ",", count: 3) + "1]"),
        ]
        for (what, text) in cases {
            let started = Date()
            let reply = try exchange(connection, text)
            XCTAssertEqual(reply.errorCode, -32700, "\(what): \(reply.description.prefix(300))")
            XCTAssertTrue(reply.errorMessage.contains("nested deeper than 512"), "\(what): \(reply.description.prefix(300))")
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, what)
            try assertStillServes(connection, expected: good, what)
        }
        // Just inside the limit the JSON is read, and the wrong type is what gets reported.
        let deepButLegal = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        let reply = try exchange(connection, #"{"jsonrpc":"2.0","id":6,"method":"tokenize","params":{"text":"# + deepButLegal + "}}")
        XCTAssertEqual(reply.errorCode, -32602, "\(reply.description.prefix(300))")
        XCTAssertEqual(reply["id"]?.intValue, 6)
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testNumbersOutOfRangeAreClearErrors() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let good = try XCTUnwrap(try request(connection, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        // (line, code, words the message must hold, whether the reply keeps id 9)
        let topk = #"{"jsonrpc":"2.0","id":9,"method":"topk","params":{"text":"a","k":"#
        let complete = #"{"jsonrpc":"2.0","id":9,"method":"complete","params":{"text":"a","max_tokens":"#
        let cases: [(String, Int, String, Bool)] = [
            (topk + "1e400}}", -32700, "too large for a double", false),
            (topk + "-1e400}}", -32700, "too large for a double", false),
            (topk + "1e20}}", -32602, "k must be an integer", true),
            (topk + "99999999999999999999999}}", -32602, "k must be an integer", true),
            (topk + "-1}}", -32602, "at least 1", true),
            (topk + "0}}", -32602, "at least 1", true),
            (topk + "2.5}}", -32602, "fraction", true),
            (topk + "1000000000}}", -32602, "at most the vocabulary size (50257)", true),
            (complete + "9223372036854775808}}", -32602, "max_tokens must be an integer", true),
            (complete + "-5}}", -32602, "at least 0", true),
            (complete + #"2,"temperature":1e308}}"#, -32602, "temperature", true),
            (complete + #"2,"temperature":-1}}"#, -32602, "temperature", true),
            (complete + #"2,"top_p":1e-400}}"#, -32602, "top_p", true),
            (#"{"jsonrpc":"2.0","id":1e400,"method":"info"}"#, -32700, "too large for a double", false),
            (#"{"jsonrpc":"2.0","id":12345678901234567890123,"method":"info"}"#, -32600, "id must be an integer or a string", false),
            (#"{"jsonrpc":"2.0","id":1.5,"method":"info"}"#, -32600, "id must be an integer or a string", false),
            (#"{"jsonrpc":"2.0","id":9,"method":"detokenize","params":{"ids":[9007199254740993]}}"#, -32602, "ids[0]", true),
        ]
        for (line, code, words, keepsID) in cases {
            let reply = try exchange(connection, line)
            XCTAssertEqual(reply.errorCode, code, "\(line): \(reply)")
            XCTAssertTrue(reply.errorMessage.contains(words), "\(line): \(reply)")
            XCTAssertEqual(reply["id"], keepsID ? .int(9) : .null, "\(line): \(reply)")
        }
        try assertStillServes(connection, expected: good, "out-of-range numbers")
    }

    func testWrongTypesThroughTheSocketKeepTheIdAndNameTheParam() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        // A sample (the dispatcher tests cover every param in-process): (method, params, code, named param).
        let cases: [(String, String, Int, String)] = [
            ("topk", #"{"text":5}"#, -32602, "text"),
            ("topk", #"{"text":"a","k":"5"}"#, -32602, "k"),
            ("topk", #"[1,2]"#, -32602, "params"),
            ("topk", #"{"ids":["a"]}"#, -32602, "ids[0]"),
            ("topk", #"{"ids":[-1]}"#, -32602, "ids[0]"),
            ("topk", #"{"ids":[50257]}"#, -32602, "ids[0]"),
            ("topk", #"{"text":"a","ids":[1]}"#, -32602, "text"),
            ("topk", #"{"text":"a","add_prefix_space":"yes"}"#, -32602, "add_prefix_space"),
            ("complete", #"{"text":"a","stop":5}"#, -32602, "stop"),
            ("complete", #"{"text":"a","stream":"true"}"#, -32602, "stream"),
            ("forward", #"{"text":"a","positions":"middle"}"#, -32602, "positions"),
            ("detokenize", #"{"ids":"1 2"}"#, -32602, "ids"),
            ("suggest", #"{"text":"a","n":1000}"#, -32602, "n"),
            ("tokenize", #"{"text":null}"#, -32602, "text"),
        ]
        for (index, (method, params, code, param)) in cases.enumerated() {
            let id = 100 + index
            let reply = try exchange(connection, #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#)
            XCTAssertEqual(reply.errorCode, code, "\(method) \(params): \(reply)")
            XCTAssertEqual(reply["id"]?.intValue, id, "\(method) \(params): \(reply)")
            XCTAssertEqual(reply["error"]?["data"]?["param"]?.stringValue, param, "\(method) \(params): \(reply)")
        }
        // Not requests at all: -32600 or -32700, id null when there is none to keep.
        let notRequests: [(String, Int)] = [
            (#"{"jsonrpc":"2.0","id":13,"method":5}"#, -32600), (#"{"jsonrpc":"1.0","id":13,"method":"info"}"#, -32600),
            (#"{"jsonrpc":"2.0","id":13}"#, -32600), (#"{"jsonrpc":"2.0","id":{},"method":"info"}"#, -32600),
            ("[]", -32600), ("5", -32600), (#""x""#, -32600), ("", -32700), ("\u{0}", -32700), ("nul", -32700),
            (#"{"jsonrpc":"2.0","id":13,"method":"info"} x"#, -32700), (#"{"jsonrpc":"2.0","id":13,"method":"info""#, -32700),
        ]
        for (line, code) in notRequests {
            XCTAssertEqual(try exchange(connection, line).errorCode, code, line)
        }
        XCTAssertEqual(try request(connection, id: 1, "info")["result"]?["vocab_size"]?.intValue, 50257)
    }

    func testHugeKIsRefusedAndTheWholeVocabularyIsServed() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let refused = try request(connection, id: 1, "topk", ["text": "Hello", "k": .int(Int.max)])
        XCTAssertEqual(refused.errorCode, -32602)
        XCTAssertTrue(refused.errorMessage.contains("50257"), "\(refused)")
        // k = the vocabulary: every token once, most likely first, probabilities summing to 1.
        let all = try request(connection, id: 2, "topk", ["text": "Hello", "k": 50257])
        let ids = try XCTUnwrap(all["result"]?["ids"]?.intArray)
        XCTAssertEqual(ids.count, 50257)
        XCTAssertEqual(Set(ids).count, 50257)
        let probs = try XCTUnwrap(all["result"]?["probs"]?.arrayValue?.compactMap(\.doubleValue))
        XCTAssertEqual(probs.count, 50257)
        XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-3)
        XCTAssertTrue(zip(probs, probs.dropFirst()).allSatisfy { $0 >= $1 }, "best first")
    }

    func testEmptyTextMeansTheEndOfTextTokenAsContext() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("tokenize", params: ["text": ""])["ids"]?.intArray, [])
        let eot: JSONValue = [50256]
        let emptyTop = try client.call("topk", params: ["text": "", "k": 5])
        let eotTop = try client.call("topk", params: ["ids": eot, "k": 5])
        XCTAssertEqual(emptyTop["ids"]?.intArray?.count, 5)
        XCTAssertEqual(emptyTop["ids"], eotTop["ids"])
        XCTAssertEqual(emptyTop["probs"], eotTop["probs"])
        XCTAssertEqual(try client.call("topk", params: ["ids": [], "k": 5])["ids"], eotTop["ids"])
        let emptyCompletion = try client.call("complete", params: ["text": "", "max_tokens": 6])
        XCTAssertEqual(emptyCompletion["ids"]?.intArray?.count, 6)
        XCTAssertEqual(emptyCompletion["ids"], try client.call("complete", params: ["ids": eot, "max_tokens": 6])["ids"])
        XCTAssertEqual(try client.call("forward", params: ["text": "", "positions": "last"])["ids"]?.intArray, [50256])
        XCTAssertEqual(try client.call("suggest", params: ["text": ""])["suggestions"]?.arrayValue?.isEmpty, false)
    }

    func testABatchOfTenThousandRequestsIsAnsweredOnceEachInOneArray() throws {
        let count = 10_000
        var batch: [UInt8] = [UInt8(ascii: "[")]
        for i in 0..<count {
            if i > 0 { batch.append(UInt8(ascii: ",")) }
            batch += i % 4 == 0 ? requestLine(id: i, "info") : requestLine(id: i, "tokenize", ["text": .string("item \(i)")])
        }
        batch.append(UInt8(ascii: "]"))
        // With queues big enough for all of it, every request succeeds; with the defaults (256 waiting per
        // connection) what does not fit is refused -32000 with the limit, and still answered in its slot.
        for (arguments, everyOneSucceeds) in [(["--max-queue", "10000", "--max-queue-total", "10000"], true), ([], false)] {
            let daemon = try startDaemon(arguments, socket: folder.appendingPathComponent("b\(arguments.count).sock").path)
            let connection = try LineConnection(socketPath: daemon.socketPath!)
            defer { connection.close() }
            let started = Date()
            try connection.send(line: batch)
            let line = try XCTUnwrap(try connection.readLine(timeout: 120))
            let seconds = Date().timeIntervalSince(started)
            let replies = try XCTUnwrap(try JSONValue.parse(line).arrayValue, "one array: \(String(decoding: line.prefix(500), as: UTF8.self))")
            XCTAssertEqual(replies.count, count)
            var seen = Set<Int>(), succeeded = 0, busy = 0
            for reply in replies {
                let id = try XCTUnwrap(reply["id"]?.intValue, "\(reply)")
                XCTAssertTrue(seen.insert(id).inserted, "id \(id) answered twice")
                if let result = reply["result"] {
                    succeeded += 1
                    if id % 4 == 0 {
                        XCTAssertEqual(result["vocab_size"]?.intValue, 50257)
                    } else {
                        XCTAssertEqual(result["tokens"]?.stringArray?.joined(), "item \(id)", "\(reply)")
                    }
                } else {
                    XCTAssertEqual(reply.errorCode, -32000, "\(reply)")
                    XCTAssertEqual(reply["error"]?["data"]?["limit"]?.intValue, 256, "\(reply)")
                    busy += 1
                }
            }
            XCTAssertEqual(seen, Set(0..<count))
            if everyOneSucceeds {
                XCTAssertEqual(succeeded, count)
            } else {
                XCTAssertGreaterThanOrEqual(succeeded, count / 4 + 256, "every info and at least a queue's worth")
                XCTAssertGreaterThan(busy, 0)
            }
            print("batch of \(count) (\(batch.count) bytes, limits \(arguments)): \(succeeded) results, \(busy) busy, "
                  + "\(line.count) reply bytes in \(String(format: "%.2f", seconds)) s")
            XCTAssertEqual(try request(connection, id: count, "info")["result"]?["n_layer"]?.intValue, 2)
        }
    }
}
