import LMProtocol
import XCTest

/// Every param of every method, given a wrong type or value, is refused with -32602 naming it.
final class MethodParamsTests: XCTestCase {
    /// Each method's params reader, and a valid set of params to spoil one member at a time.
    private let methods: [(name: String, base: JSONObject, read: (JSONValue?) throws -> Void)] = [
        ("tokenize", ["text": "hi"], { _ = try TokenizeParams($0) }),
        ("detokenize", ["ids": [1, 2]], { _ = try DetokenizeParams($0) }),
        ("forward", ["text": "hi"], { _ = try ForwardParams($0) }),
        ("topk", ["text": "hi"], { _ = try TopKParams($0) }),
        ("complete", ["text": "hi"], { _ = try CompleteParams($0) }),
        ("info", [:], { _ = try InfoParams($0) }),
        ("shutdown", [:], { _ = try ShutdownParams($0) }),
        ("$/cancelRequest", ["id": 1], { _ = try CancelRequestParams($0) }),
    ]

    /// (method, param, bad value, the param the error must name).
    private let spoilers: [(String, String, JSONValue, String)] = {
        var s: [(String, String, JSONValue, String)] = []
        for m in ["tokenize", "forward", "topk", "complete"] {
            s += [
                (m, "text", 5, "text"), (m, "text", true, "text"), (m, "text", ["a"], "text"), (m, "text", [:], "text"),
                (m, "ids", "1 2", "ids"), (m, "ids", 5, "ids"), (m, "ids", [1, "a"], "ids[1]"), (m, "ids", [1.5], "ids[0]"),
                (m, "ids", [-1], "ids[0]"), (m, "ids", [nil], "ids[0]"), (m, "ids", [1e30], "ids[0]"),
                (m, "add_prefix_space", "yes", "add_prefix_space"), (m, "add_prefix_space", 1, "add_prefix_space"),
            ]
        }
        s += [
            ("detokenize", "ids", "x", "ids"), ("detokenize", "ids", [true], "ids[0]"), ("detokenize", "ids", [0, -3], "ids[1]"),
            ("forward", "positions", 5, "positions"), ("forward", "positions", "some", "positions"), ("forward", "positions", "ALL", "positions"),
            ("forward", "encoding", true, "encoding"), ("forward", "encoding", "hex", "encoding"),
            ("topk", "k", "10", "k"), ("topk", "k", 0, "k"), ("topk", "k", -1, "k"), ("topk", "k", 2.5, "k"), ("topk", "k", true, "k"),
            ("complete", "max_tokens", "16", "max_tokens"), ("complete", "max_tokens", -1, "max_tokens"), ("complete", "max_tokens", 1.5, "max_tokens"),
            ("complete", "temperature", "0", "temperature"), ("complete", "temperature", -0.5, "temperature"), ("complete", "temperature", true, "temperature"),
            ("complete", "top_k", "5", "top_k"), ("complete", "top_k", -1, "top_k"), ("complete", "top_k", 1.5, "top_k"),
            ("complete", "top_p", "0.9", "top_p"), ("complete", "top_p", 0, "top_p"), ("complete", "top_p", 1.5, "top_p"), ("complete", "top_p", -0.1, "top_p"),
            ("complete", "seed", "1", "seed"), ("complete", "seed", -1, "seed"), ("complete", "seed", 1.5, "seed"), ("complete", "seed", 1e30, "seed"),
            ("complete", "stop", "x", "stop"), ("complete", "stop", [1], "stop[0]"), ("complete", "stop", ["a", ""], "stop[1]"),
            ("complete", "stream", "true", "stream"), ("complete", "stream", 1, "stream"),
            ("complete", "logprobs", "1", "logprobs"), ("complete", "logprobs", -1, "logprobs"), ("complete", "logprobs", 21, "logprobs"),
            ("complete", "logprobs", 1.5, "logprobs"),
            ("$/cancelRequest", "id", 1.5, "id"), ("$/cancelRequest", "id", true, "id"), ("$/cancelRequest", "id", [1], "id"),
        ]
        return s
    }()

    private func expectInvalid(_ read: (JSONValue?) throws -> Void, _ params: JSONValue?, naming param: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            try read(params)
            XCTFail("\(params.map(\.description) ?? "nil") was accepted", file: file, line: line)
        } catch let e as RPCError {
            XCTAssertEqual(e.code, -32602, e.message, file: file, line: line)
            XCTAssertEqual(e.data?["param"], .string(param), e.message, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix("Invalid params: \(param) "), e.message, file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testEveryParamWithAWrongValueIsNamed() throws {
        XCTAssertGreaterThan(spoilers.count, 80)
        for (method, param, bad, named) in spoilers {
            let m = try XCTUnwrap(methods.first { $0.name == method })
            var params = m.base
            if param == "ids" || param == "text" { params["text"] = nil; params["ids"] = nil }
            params[param] = bad
            expectInvalid(m.read, .object(params), naming: named)
        }
    }

    func testValidBaseParamsAreAccepted() {
        for m in methods { XCTAssertNoThrow(try m.read(.object(m.base)), m.name) }
    }

    func testPositionalParamsAreRefused() {
        for m in methods { expectInvalid(m.read, [1, 2], naming: "params") }
        for m in methods { expectInvalid(m.read, "x", naming: "params") }
    }

    func testInputNeedsExactlyOneOfTextAndIds() {
        for m in methods where ["tokenize", "forward", "topk", "complete"].contains(m.name) {
            expectInvalid(m.read, ["text": "a", "ids": [1]], naming: "text")
            expectInvalid(m.read, [:], naming: "text")
            expectInvalid(m.read, nil, naming: "text")
            expectInvalid(m.read, ["text": nil, "ids": nil], naming: "text")
        }
        expectInvalid({ _ = try DetokenizeParams($0) }, [:], naming: "ids")
        expectInvalid({ _ = try CancelRequestParams($0) }, ["id": nil], naming: "id")
    }

    func testDefaultsNullsAndUnknownParams() throws {
        let c = try CompleteParams(["ids": [], "temperature": nil, "unknown": [1, 2], "max_tokens": 5.0])
        XCTAssertEqual(c.input, .ids([]))
        XCTAssertEqual(c.maxTokens, 5, "an integral number is an integer")
        XCTAssertEqual(c.temperature, 0)
        XCTAssertNil(c.topK)
        XCTAssertNil(c.topP)
        XCTAssertNil(c.seed)
        XCTAssertEqual(c.stop, [])
        XCTAssertFalse(c.stream)
        XCTAssertEqual(c.logprobs, 0)
        XCTAssertNil(c.addPrefixSpace)
        let full = try CompleteParams([
            "text": "x", "max_tokens": 0, "temperature": 0.7, "top_k": 40, "top_p": 1, "seed": 9,
            "stop": ["\n"], "stream": true, "logprobs": 20, "add_prefix_space": true,
        ])
        XCTAssertEqual(full, CompleteParams(input: .text("x"), addPrefixSpace: true, maxTokens: 0, temperature: 0.7, topK: 40,
                                            topP: 1, seed: 9, stop: ["\n"], stream: true, logprobs: 20))
        XCTAssertEqual(try CompleteParams(full.json), full, "params survive their own JSON")
        let t = try TopKParams(["text": "a"])
        XCTAssertEqual(t.k, 10)
        XCTAssertEqual(try TopKParams(t.json), t)
        let f = try ForwardParams(["ids": [1], "positions": "last", "encoding": "base64"])
        XCTAssertEqual(f.positions, .last)
        XCTAssertEqual(f.encoding, .base64)
        XCTAssertEqual(try ForwardParams(f.json), f)
        XCTAssertEqual(try ForwardParams(["text": ""]).positions, .all)
        XCTAssertEqual(try TokenizeParams(["text": "a", "add_prefix_space": true]).addPrefixSpace, true)
        XCTAssertEqual(try CancelRequestParams(["id": "abc"]).id, "abc")
        XCTAssertNoThrow(try InfoParams(["anything": 1]))
        XCTAssertNoThrow(try ShutdownParams(nil))
    }

    func testVocabularyChecks() {
        let v = 50257
        expectInvalid({ try TokenizeParams($0).validate(vocabSize: v) }, ["ids": [1, 50257]], naming: "ids[1]")
        expectInvalid({ try DetokenizeParams($0).validate(vocabSize: v) }, ["ids": [99999]], naming: "ids[0]")
        expectInvalid({ try ForwardParams($0).validate(vocabSize: v) }, ["ids": [50256, 50257]], naming: "ids[1]")
        expectInvalid({ try TopKParams($0).validate(vocabSize: v) }, ["text": "a", "k": 50258], naming: "k")
        expectInvalid({ try CompleteParams($0).validate(vocabSize: v) }, ["text": "a", "top_k": 60000], naming: "top_k")
        XCTAssertNoThrow(try TopKParams(["ids": [50256], "k": 50257]).validate(vocabSize: v))
        XCTAssertNoThrow(try CompleteParams(["text": "a", "top_k": 50257]).validate(vocabSize: v))
    }

    func testMessagesSayWhy() {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return (error as? RPCError)?.message ?? "" }
        }
        XCTAssertEqual(message { _ = try TopKParams(["text": "a", "k": 0]) }, "Invalid params: k must be at least 1, not 0")
        XCTAssertEqual(message { _ = try TopKParams(["text": "a", "k": "3"]) }, "Invalid params: k must be an integer, not a string")
        XCTAssertEqual(message { _ = try CompleteParams(["text": "a", "logprobs": 21]) },
                       "Invalid params: logprobs must be between 0 and 20, not 21")
        XCTAssertEqual(message { _ = try ForwardParams(["text": "a", "encoding": "hex"]) },
                       #"Invalid params: encoding must be "json" or "base64", not "hex""#)
        XCTAssertEqual(message { _ = try TopKParams(["ids": [1, 2.5]]) },
                       "Invalid params: ids[1] must be an integer token id, not a number with a fraction")
        XCTAssertEqual(message { _ = try TopKParams(["ids": [50257]]).validate(vocabSize: 50257) },
                       "Invalid params: ids[0] is 50257, outside the vocabulary (0..<50257)")
    }
}
