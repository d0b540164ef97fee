import Foundation
import LMEngine
import LMProtocol
import TestSupport
import XCTest

@testable import LMServer

/// Every method through an in-process dispatcher on the tiny model, checked against the engine itself.
final class DispatcherMethodTests: XCTestCase {
    var engine: Engine!
    var dispatcher: Dispatcher!
    var sink: CollectingSink!
    var session: DispatcherSession!

    override func setUpWithError() throws {
        engine = try TinyEngine.get()
        dispatcher = Dispatcher(engine: engine)
        sink = CollectingSink()
        session = dispatcher.openSession(sink: sink)
    }

    private func call(_ method: String, _ params: JSONValue? = nil, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        let id = RPCID.int(Int.random(in: 1...1_000_000))
        session.request(id, method, params)
        return sink.response(id, file: file, line: line)
    }

    func testInfo() throws {
        let r = try XCTUnwrap(call("info")?.result)
        let i = engine.info
        XCTAssertEqual(r["model"], .string(i.model))
        XCTAssertEqual(r["vocab_size"], 50257)
        XCTAssertEqual(r["n_positions"], 128)
        XCTAssertEqual(r["n_embd"], 32)
        XCTAssertEqual(r["n_layer"], 2)
        XCTAssertEqual(r["n_head"], 4)
        XCTAssertEqual(r["dtype"], .string(i.dtype))
        XCTAssertEqual(r["version"], "0.1.0")
        XCTAssertEqual(r["protocol_version"], 1)
    }

    func testTokenizeText() throws {
        let r = try XCTUnwrap(call("tokenize", ["text": "Hello world"])?.result)
        XCTAssertEqual(r["ids"]?.intArray, engine.encode("Hello world", addPrefixSpace: false))
        XCTAssertEqual(r["ids"]?.intArray, [15496, 995])
        XCTAssertEqual(r["tokens"], ["Hello", " world"])
        XCTAssertEqual(r["offsets"], [[0, 5], [5, 11]])
        let spaced = try XCTUnwrap(call("tokenize", ["text": "Hello", "add_prefix_space": true])?.result)
        XCTAssertEqual(spaced["ids"]?.intArray, engine.encode("Hello", addPrefixSpace: true))
        XCTAssertNotEqual(spaced["ids"], r["ids"]?[0].map { [$0] })
    }

    func testAddPrefixSpaceDefaultComesFromOptions() throws {
        var options = DispatcherOptions()
        options.addPrefixSpace = true
        let d = Dispatcher(engine: engine, options: options)
        let s = CollectingSink()
        d.openSession(sink: s).request(1, "tokenize", ["text": "Hello"])
        XCTAssertEqual(s.response(1)?.result?["ids"]?.intArray, engine.encode("Hello", addPrefixSpace: true))
        XCTAssertNotEqual(engine.encode("Hello", addPrefixSpace: true), engine.encode("Hello", addPrefixSpace: false))
    }

    func testTokenizeIdsSplitsTheirDecodedText() throws {
        let text = "naïve café 😀 ok"
        let ids = engine.encode(text, addPrefixSpace: false)
        let r = try XCTUnwrap(call("tokenize", ["ids": .ints(ids)])?.result)
        XCTAssertEqual(r["text"], .string(text))
        XCTAssertEqual(r["ids"]?.intArray, ids)
        let offsets = try XCTUnwrap(r["offsets"]?.arrayValue?.map { try XCTUnwrap($0.intArray) })
        XCTAssertEqual(offsets.count, ids.count)
        let bytes = Array(text.utf8)
        var previous = 0
        for o in offsets {
            XCTAssertEqual(o[0], previous, "contiguous")
            XCTAssertLessThanOrEqual(o[0], o[1])
            // Every end falls on a character boundary.
            XCTAssertTrue(o[1] == bytes.count || (bytes[o[1]] & 0xC0) != 0x80, "\(o)")
            previous = o[1]
        }
        XCTAssertEqual(previous, bytes.count)
        // The emoji takes two byte-level tokens (" \u{F0}\u{9F}", "\u{98}\u{80}"): the first ends where the
        // emoji starts, the next takes in the whole emoji.
        let emojiStart = "naïve café ".utf8.count
        let k = try XCTUnwrap(offsets.firstIndex { $0[1] == emojiStart })
        XCTAssertEqual(offsets[k + 1], [emojiStart, emojiStart + 4])
        XCTAssertEqual(r["tokens"]?[k], " \u{FFFD}", "each id decoded alone")
        // Where the text tokenizes on character boundaries, ids input gives the same ranges as text input.
        let plain = try XCTUnwrap(call("tokenize", ["text": "Hello world, again"])?.result)
        let plainIds = try XCTUnwrap(call("tokenize", ["ids": plain["ids"]!])?.result)
        XCTAssertEqual(plainIds["offsets"], plain["offsets"])
    }

    func testDetokenize() throws {
        let ids = engine.encode("Round trip ✓", addPrefixSpace: false)
        XCTAssertEqual(call("detokenize", ["ids": .ints(ids)])?.result?["text"], "Round trip ✓")
        XCTAssertEqual(call("detokenize", ["ids": []])?.result?["text"], "")
        XCTAssertEqual(call("detokenize", ["ids": [50257]])?.errorCode, -32602)
    }

    func testForwardMatchesTheEngine() throws {
        let ids = [15496, 995, 11]
        let expected = try engine.forward(ids: ids, positions: .all)
        let r = try XCTUnwrap(call("forward", ["ids": .ints(ids)])?.result)
        XCTAssertEqual(r["ids"]?.intArray, ids)
        XCTAssertEqual(r["shape"], [3, 50257])
        let rows = try XCTUnwrap(r["logits"]?.arrayValue)
        XCTAssertEqual(rows.count, 3)
        let flat = rows.flatMap { $0.floatArray ?? [] }
        XCTAssertEqual(flat, expected.values, "float32 logits survive JSON text exactly")

        let last = try XCTUnwrap(call("forward", ["ids": .ints(ids), "positions": "last", "encoding": "base64"])?.result)
        XCTAssertEqual(last["shape"], [1, 50257])
        let decoded = try XCTUnwrap(last["logits_base64"]?.stringValue.flatMap(Float32Base64.decode))
        XCTAssertEqual(decoded, Array(expected.values.suffix(50257)))
    }

    func testForwardOfEmptyInputIsEndOfText() throws {
        let r = try XCTUnwrap(call("forward", ["text": "", "positions": "last", "encoding": "base64"])?.result)
        XCTAssertEqual(r["ids"], [50256])
    }

    func testForwardTooLongIsInvalidParams() throws {
        let e = try XCTUnwrap(call("forward", ["ids": .ints(Array(repeating: 40, count: 129))])?["error"])
        XCTAssertEqual(e["code"], -32602)
        XCTAssertEqual(e["data"]?["param"], "ids")
        XCTAssertEqual(e["data"]?["length"], 129)
        XCTAssertEqual(e["data"]?["limit"], 128)
        XCTAssertTrue(e["message"]?.stringValue?.contains("129") ?? false)
        let long = String(repeating: "word ", count: 200)
        let t = try XCTUnwrap(call("forward", ["text": .string(long)])?["error"])
        XCTAssertEqual(t["code"], -32602)
        XCTAssertEqual(t["data"]?["param"], "text")
        XCTAssertEqual(t["data"]?["limit"], 128)
    }

    func testTopKMatchesTheEngine() throws {
        let expected = try engine.topK(ids: engine.encode("The cat", addPrefixSpace: false), k: 5)
        let r = try XCTUnwrap(call("topk", ["text": "The cat", "k": 5])?.result)
        XCTAssertEqual(r["ids"]?.intArray, expected.ids)
        XCTAssertEqual(r["tokens"]?.stringArray, expected.tokens)
        XCTAssertEqual(r["logits"]?.floatArray, expected.logits)
        XCTAssertEqual(r["probs"]?.floatArray, expected.probs)
        XCTAssertEqual(r["text"], .string(expected.text))
        XCTAssertNil(r["truncated"])
        XCTAssertEqual(call("topk", ["text": "The cat"])?.result?["ids"]?.arrayValue?.count, 10, "k defaults to 10")
        XCTAssertEqual(call("topk", ["ids": .ints(Array(repeating: 40, count: 300)), "k": 1])?.result?["truncated"], true)
        XCTAssertEqual(call("topk", ["text": "a", "k": 50258])?["error"]?["data"]?["param"], "k")
    }

    func testSuggestMatchesTheEngineAndHeals() throws {
        var options = SuggestionOptions()
        options.count = 76
        options.maxTokens = 1
        let expected = try engine.suggest(text: "I wish I we", options: options)
        let r = try XCTUnwrap(call("suggest", ["text": "I wish I we", "n": 76, "max_tokens": 1])?.result)
        let items = try XCTUnwrap(r["suggestions"]?.arrayValue)
        XCTAssertEqual(items.map { $0["insert"]?.stringValue }, expected.suggestions.map(\.insert))
        XCTAssertEqual(items.map { $0["label"]?.stringValue }, expected.suggestions.map(\.label))
        XCTAssertEqual(items.map { $0["ids"]?.intArray }, expected.suggestions.map(\.ids))
        XCTAssertEqual(r["healed"], " we")
        // "were" is offered as "re": the typed "we" is kept.
        XCTAssertTrue(items.contains { $0["insert"] == "re" && $0["label"] == "were" })
        let unhealed = try XCTUnwrap(call("suggest", ["text": "I wish I we", "heal": false])?.result)
        XCTAssertEqual(unhealed["healed"], "")
        XCTAssertEqual(unhealed["suggestions"]?.arrayValue?.count, 5, "n defaults to 5")
        XCTAssertEqual(call("suggest", ["text": "a", "n": 0])?["error"]?["data"]?["param"], "n")
        XCTAssertEqual(call("suggest", ["text": "a", "stop_at": "page"])?["error"]?["data"]?["param"], "stop_at")
        XCTAssertEqual(call("suggest", ["n": 3])?["error"]?["data"]?["param"], "text")
        XCTAssertEqual(call("suggest", ["text": 5])?["error"]?["code"], -32602)
    }

    func testSuggestHonoursTheServersTokenCap() throws {
        var options = DispatcherOptions()
        options.maxTokensPerRequest = 4
        let d = Dispatcher(engine: engine, options: options)
        let sink = CollectingSink()
        let session = d.openSession(sink: sink)
        session.request(1, "suggest", ["text": "a", "max_tokens": 5])
        session.request(2, "suggest", ["text": "a", "max_tokens": 4])
        d.waitUntilIdle()
        XCTAssertEqual(sink.response(1)?["error"]?["data"]?["limit"], 4)
        XCTAssertNotNil(sink.response(2)?.result)
    }

    func testCompleteMatchesTheEngine() throws {
        var options = GenerationOptions()
        options.maxTokens = 8
        let prompt = engine.encode("Once upon a time", addPrefixSpace: false)
        let expected = try engine.generate(ids: prompt, options: options)
        let r = try XCTUnwrap(call("complete", ["text": "Once upon a time", "max_tokens": 8])?.result)
        XCTAssertEqual(r["ids"]?.intArray, expected.ids)
        XCTAssertEqual(r["text"], .string(expected.text))
        XCTAssertEqual(r["finish_reason"], .string(expected.finishReason.rawValue))
        XCTAssertNil(r["logprobs"])

        let zero = try XCTUnwrap(call("complete", ["text": "x", "max_tokens": 0])?.result)
        XCTAssertEqual(zero["ids"], [])
        XCTAssertEqual(zero["finish_reason"], "length")
    }

    func testHugeMaxTokensStopsAtTheContext() throws {
        let r = try XCTUnwrap(call("complete", ["ids": [464], "max_tokens": .int(Int.max)])?.result)
        let n = try XCTUnwrap(r["ids"]?.arrayValue?.count)
        XCTAssertLessThan(n, 128)
        XCTAssertTrue(r["finish_reason"] == "length" || r["finish_reason"] == "eos", "\(r)")
    }

    func testCompleteLogprobs() throws {
        let r = try XCTUnwrap(call("complete", ["text": "Hello", "max_tokens": 4, "logprobs": 3])?.result)
        let ids = try XCTUnwrap(r["ids"]?.intArray)
        let entries = try XCTUnwrap(r["logprobs"]?.arrayValue)
        XCTAssertEqual(entries.count, ids.count)
        for (e, id) in zip(entries, ids) {
            XCTAssertEqual(e["id"]?.intValue, id)
            XCTAssertEqual(e["top"]?.arrayValue?.count, 3)
            XCTAssertLessThanOrEqual(e["logprob"]?.doubleValue ?? 1, 0)
            // Greedy: the chosen token is the most likely one.
            XCTAssertEqual(e["top"]?[0]?["id"]?.intValue, id)
        }
    }

    func testCompleteSamplingIsReproducibleWithASeed() throws {
        let params: JSONValue = ["text": "The", "max_tokens": 6, "temperature": 1.2, "top_k": 50, "top_p": 0.9, "seed": 1234]
        let a = try XCTUnwrap(call("complete", params)?.result)
        let b = try XCTUnwrap(call("complete", params)?.result)
        XCTAssertEqual(a, b)
    }

    func testStreamingSendsDeltasBeforeTheResponse() throws {
        session.request("s", "complete", ["text": "Streaming is", "max_tokens": 6, "stream": true, "logprobs": 1])
        let response = try XCTUnwrap(sink.response("s"))
        let lines = sink.values
        let responseIndex = try XCTUnwrap(lines.firstIndex(of: response))
        let deltas = lines.filter { $0["method"] == "complete/delta" }
        XCTAssertFalse(deltas.isEmpty)
        XCTAssertTrue(lines[responseIndex...].allSatisfy { $0["method"] == nil }, "no delta after the response")
        XCTAssertTrue(deltas.allSatisfy { $0["params"]?["id"] == "s" && $0["id"] == nil })
        let ids = deltas.flatMap { $0["params"]?["ids"]?.intArray ?? [] }
        let text = deltas.map { $0["params"]?["text"]?.stringValue ?? "" }.joined()
        XCTAssertEqual(ids, response.result?["ids"]?.intArray)
        XCTAssertEqual(text, response.result?["text"]?.stringValue)
        XCTAssertEqual(deltas.flatMap { $0["params"]?["logprobs"]?.arrayValue ?? [] }.count, ids.count)
    }

    func testMaxTokensPerRequestCap() throws {
        var options = DispatcherOptions()
        options.maxTokensPerRequest = 4
        let d = Dispatcher(engine: engine, options: options)
        let s = CollectingSink()
        let session = d.openSession(sink: s)
        session.request(1, "complete", ["text": "a", "max_tokens": 5])
        XCTAssertEqual(s.response(1)?["error"]?["data"]?["param"], "max_tokens")
        session.request(2, "complete", ["text": "a", "max_tokens": 4])
        XCTAssertNotNil(s.response(2)?.result)
    }
}
