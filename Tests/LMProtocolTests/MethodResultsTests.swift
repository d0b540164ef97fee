import Foundation
import LMProtocol
import XCTest

/// Result types: their JSON, reading it back, and the fast forward writer matching the tree.
final class MethodResultsTests: XCTestCase {
    func testTokenizeResult() throws {
        let r = TokenizeResult(ids: [15496, 995], tokens: ["Hello", " world"], offsets: [0..<5, 5..<11])
        XCTAssertEqual(r.json.description, #"{"ids":[15496,995],"tokens":["Hello"," world"],"offsets":[[0,5],[5,11]]}"#)
        XCTAssertEqual(TokenizeResult(json: r.json), r)
        let withText = TokenizeResult(ids: [1], tokens: ["\""], offsets: [0..<1], text: "\"")
        XCTAssertEqual(TokenizeResult(json: withText.json), withText)
        XCTAssertNil(TokenizeResult(json: ["ids": [1], "tokens": ["a"], "offsets": [[2, 1]]]))
    }

    func testTopKResult() {
        let r = TopKResult(ids: [1, 2], tokens: ["a", "b"], logits: [1.5, -0.25], probs: [0.6, 0.1], text: "ab", truncated: false)
        XCTAssertEqual(r.json.description, #"{"ids":[1,2],"tokens":["a","b"],"logits":[1.5,-0.25],"probs":[0.6,0.1],"text":"ab"}"#)
        var t = r
        t.truncated = true
        XCTAssertEqual(t.json["truncated"], true)
        XCTAssertEqual(TopKResult(json: r.json), r)
        XCTAssertEqual(TopKResult(json: t.json), t)
    }

    func testCompleteResultAndDelta() {
        let lp = TokenLogprobs(id: 5, token: "x", logprob: -0.5, top: [TopLogprob(id: 5, token: "x", logprob: -0.5)])
        let r = CompleteResult(ids: [5], text: "x", finishReason: .eos, truncated: false, logprobs: [lp])
        XCTAssertEqual(
            r.json.description,
            #"{"ids":[5],"text":"x","finish_reason":"eos","logprobs":[{"id":5,"token":"x","logprob":-0.5,"top":[{"id":5,"token":"x","logprob":-0.5}]}]}"#)
        XCTAssertEqual(CompleteResult(json: r.json), r)
        XCTAssertNil(CompleteResult(json: ["ids": [], "text": "", "finish_reason": "bored"]))
        let d = CompleteDelta(requestID: "r1", ids: [5], text: "x")
        XCTAssertEqual(d.notification.json.description,
                       #"{"jsonrpc":"2.0","method":"complete/delta","params":{"id":"r1","ids":[5],"text":"x"}}"#)
        XCTAssertEqual(CompleteDelta(json: d.json), d)
    }

    func testInfoResult() {
        let r = InfoResult(model: "tiny-gpt2", vocabSize: 50257, nPositions: 128, nEmbd: 32, nLayer: 2, nHead: 4,
                           dtype: "float32", eosTokenId: 50256)
        XCTAssertEqual(r.json["version"], "0.1.0")
        XCTAssertEqual(r.json["protocol_version"], 1)
        XCTAssertEqual(r.json.objectValue?.keys, ["model", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "dtype",
                                                   "eos_token_id", "version", "protocol_version"])
        XCTAssertEqual(InfoResult(json: r.json), r)
    }

    func testForwardFastWriterMatchesTheTree() throws {
        var rng = SeededGenerator(seed: 3)
        let values = (0..<(3 * 7)).map { _ in Float.random(in: -20...20, using: &rng) } + []
        for encoding in LogitsEncoding.allCases {
            let r = ForwardResult(ids: [1, 2, 3], rows: 3, columns: 7, values: values, encoding: encoding)
            var fast: [UInt8] = []
            r.serialize(into: &fast)
            XCTAssertEqual(fast, r.json.serialized(), "\(encoding)")
            let back = try XCTUnwrap(ForwardResult(json: try JSONValue.parse(fast)))
            XCTAssertEqual(back, r, "float32 values survive the text exactly")
        }
        var withNaN = ForwardResult(ids: [1], rows: 1, columns: 2, values: [.nan, 1], encoding: .json)
        var out: [UInt8] = []
        withNaN.serialize(into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #"{"ids":[1],"shape":[1,2],"logits":[[null,1.0]]}"#)
        withNaN.encoding = .base64
        XCTAssertEqual(ForwardResult(json: withNaN.json)?.values.first?.isNaN, true, "base64 keeps NaN")
        XCTAssertNil(ForwardResult(json: ["ids": [], "shape": [.int(Int.max), 2], "logits": []]), "hostile shape")
        XCTAssertNil(ForwardResult(json: ["ids": [], "shape": [-1, -1], "logits_base64": ""]))
    }

    func testBase64() throws {
        XCTAssertEqual(Float32Base64.encode([1.0]), "AACAPw==")
        XCTAssertEqual(Float32Base64.encode([1.0, -2.0]), "AACAPwAAAMA=")
        XCTAssertEqual(Float32Base64.encode([1.0, -2.0, 0.5]), "AACAPwAAAMAAAAA/")
        let sample: [Float] = [0, -0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -3.25, .infinity]
        let decoded = try XCTUnwrap(Float32Base64.decode(Float32Base64.encode(sample)))
        XCTAssertEqual(decoded.map(\.bitPattern), sample.map(\.bitPattern))
        // Foundation agrees on the bytes.
        let bytes = sample.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) }
        XCTAssertEqual(Float32Base64.encode(sample), Data(bytes).base64EncodedString())
        XCTAssertNil(Float32Base64.decode("AACAP"))
        XCTAssertNil(Float32Base64.decode("AAC*Pw=="))
        XCTAssertNil(Float32Base64.decode("AAA="), "two bytes are not a float")
    }

    /// Serializes a GPT-2-sized logits block (50,257 × 128) and reports the time. Run in a release build
    /// with `LMD_PERF=1 swift test -c release --filter testLogitsSerializationThroughput`.
    func testLogitsSerializationThroughput() throws {
        let perf = ProcessInfo.processInfo.environment["LMD_PERF"] == "1"
        let (rows, columns) = perf ? (128, 50257) : (4, 50257)
        var rng = SeededGenerator(seed: 1)
        let values = (0..<(rows * columns)).map { _ in Float.random(in: -15...15, using: &rng) }
        let result = ForwardResult(ids: Array(0..<rows), rows: rows, columns: columns, values: values, encoding: .json)
        var start = Date()
        let line = RPCResponse.serializedSuccess(id: 1, result: result)
        let fastSeconds = Date().timeIntervalSince(start)
        var b64 = result
        b64.encoding = .base64
        start = Date()
        let b64Line = RPCResponse.serializedSuccess(id: 1, result: b64)
        let b64Seconds = Date().timeIntervalSince(start)
        start = Date()
        let parsed = try JSONValue.parse(line)
        let parseSeconds = Date().timeIntervalSince(start)
        let back = try XCTUnwrap(ForwardResult(json: try XCTUnwrap(parsed["result"])))
        XCTAssertEqual(back.values, values)
        var treeSeconds = 0.0
        if perf {
            start = Date()
            let treeLine = RPCResponse.success(id: 1, result: result.json).serialized()
            treeSeconds = Date().timeIntervalSince(start)
            XCTAssertEqual(treeLine, line)
        }
        print(String(
            format: "logits %d×%d: JSON %.1f MB in %.3f s (tree path %.3f s), base64 %.1f MB in %.3f s, parse %.3f s",
            rows, columns, Double(line.count) / 1e6, fastSeconds, treeSeconds, Double(b64Line.count) / 1e6, b64Seconds,
            parseSeconds))
    }
}
