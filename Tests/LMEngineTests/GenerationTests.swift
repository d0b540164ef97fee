import Foundation
import LMEngine
import TestSupport
import XCTest

/// Sampling, stopping, streaming, truncation and errors.
final class GenerationTests: XCTestCase {
    var engine: Engine { GoldenTests.engine }
    let prompt = [40, 4601, 314, 547]  // "I wish I were"

    private func options(_ edit: (inout GenerationOptions) -> Void) -> GenerationOptions {
        var o = GenerationOptions(); edit(&o); return o
    }

    func testSameSeedSameTokensAndSeedsMatter() throws {
        let a = try engine.generate(ids: prompt, options: options { $0.temperature = 1.5; $0.seed = 7; $0.maxTokens = 12; $0.stopAtEndOfText = false })
        let b = try engine.generate(ids: prompt, options: options { $0.temperature = 1.5; $0.seed = 7; $0.maxTokens = 12; $0.stopAtEndOfText = false })
        XCTAssertEqual(a.ids, b.ids)
        XCTAssertEqual(a.ids.count, 12)
        var distinct = Set<[Int]>()
        for seed in 0..<6 as Range<UInt64> {
            distinct.insert(try engine.generate(ids: prompt, options: options { $0.temperature = 1.5; $0.seed = seed; $0.maxTokens = 12; $0.stopAtEndOfText = false }).ids)
        }
        XCTAssertGreaterThan(distinct.count, 1, "six seeds all gave the same tokens")
    }

    func testTopKOneAndTinyTopPAreGreedy() throws {
        let greedy = try engine.generate(ids: prompt, options: options { $0.maxTokens = 8; $0.stopAtEndOfText = false })
        let k1 = try engine.generate(ids: prompt, options: options { $0.temperature = 1; $0.topK = 1; $0.seed = 3; $0.maxTokens = 8; $0.stopAtEndOfText = false })
        let p = try engine.generate(ids: prompt, options: options { $0.temperature = 1; $0.topP = 1e-6; $0.seed = 3; $0.maxTokens = 8; $0.stopAtEndOfText = false })
        XCTAssertEqual(k1.ids, greedy.ids)
        XCTAssertEqual(p.ids, greedy.ids)
    }

    func testSampledTokensStayWithinTopK() throws {
        let top = try engine.topK(ids: prompt, k: 3)
        for seed in 0..<20 as Range<UInt64> {
            let g = try engine.generate(ids: prompt, options: options { $0.temperature = 5; $0.topK = 3; $0.seed = seed; $0.maxTokens = 1 })
            XCTAssertTrue(top.ids.contains(g.ids[0]), "seed \(seed) drew \(g.ids[0]) outside the top 3 \(top.ids)")
        }
    }

    func testStopStringCutsTheText() throws {
        let full = try engine.generate(ids: prompt, options: options { $0.maxTokens = 16; $0.stopAtEndOfText = false })
        // A stop string taken from the middle of the greedy text.
        let scalars = Array(full.text.unicodeScalars)
        let stop = String(String.UnicodeScalarView(scalars[6..<9]))
        let expected = full.text.components(separatedBy: stop)[0]
        let g = try engine.generate(ids: prompt, options: options { $0.maxTokens = 16; $0.stopAtEndOfText = false; $0.stop = [stop] })
        XCTAssertEqual(g.finishReason, .stop)
        XCTAssertEqual(g.text, expected)
        XCTAssertTrue(full.ids.starts(with: g.ids))
        XCTAssertTrue(try engine.decode(g.ids).hasPrefix(g.text))
    }

    func testStreamedDeltasAddUpToTheText() throws {
        var streamed = ""
        var ids: [Int] = []
        let g = try engine.generate(ids: prompt, options: options { $0.maxTokens = 16; $0.stopAtEndOfText = false }) { token in
            streamed += token.textDelta
            if token.id >= 0 { ids.append(token.id) }
        }
        XCTAssertEqual(streamed, g.text)
        XCTAssertEqual(ids, g.ids)
    }

    func testLogprobsAreConsistent() throws {
        let g = try engine.generate(ids: prompt, options: options { $0.maxTokens = 4; $0.logprobs = 5; $0.stopAtEndOfText = false })
        XCTAssertEqual(g.tokens.count, 4)
        let top = try engine.topK(ids: prompt, k: 5)
        XCTAssertEqual(g.tokens[0].top.map(\.id), top.ids)
        for (a, p) in zip(g.tokens[0].top, top.probs) { XCTAssertEqual(exp(a.logprob), p, accuracy: 1e-5) }
        XCTAssertEqual(g.tokens[0].logprob, g.tokens[0].top[0].logprob)  // greedy picks the best
    }

    func testLongContextIsTruncatedToTheMostRecentTokens() throws {
        let ids = (0..<300).map { 100 + $0 }
        let top = try engine.topK(ids: ids, k: 5)
        XCTAssertTrue(top.truncated)
        XCTAssertEqual(top.contextIds, Array(ids.suffix(128)))
        let g = try engine.generate(ids: ids, options: options { $0.maxTokens = 10; $0.stopAtEndOfText = false })
        XCTAssertTrue(g.truncated)
        XCTAssertEqual(g.contextIds, Array(ids.suffix(118)))
        XCTAssertEqual(g.ids.count, 10)
        // A long request keeps at least half the context for the prompt.
        let h = try engine.generate(ids: ids, options: options { $0.maxTokens = 1000; $0.stopAtEndOfText = false })
        XCTAssertEqual(h.contextIds, Array(ids.suffix(64)))
        XCTAssertEqual(h.ids.count, 64)
        XCTAssertEqual(h.finishReason, .length)
        XCTAssertThrowsError(try engine.forward(ids: ids, positions: .last)) { error in
            XCTAssertEqual(error as? EngineError, .contextTooLong(length: 300, limit: 128))
        }
    }

    func testGenerationStopsAtTheContextLimit() throws {
        let g = try engine.generate(ids: prompt, options: options { $0.maxTokens = 500; $0.stopAtEndOfText = false })
        XCTAssertEqual(g.finishReason, .length)
        XCTAssertEqual(g.contextIds.count + g.ids.count, 128)
    }

    func testEmptyInputMeansEndOfText() throws {
        let a = try engine.topK(ids: [], k: 3)
        let b = try engine.topK(ids: [50256], k: 3)
        XCTAssertEqual(a.contextIds, [50256])
        XCTAssertEqual(a.ids, b.ids)
        XCTAssertEqual(try engine.forward(ids: [], positions: .last).ids, [50256])
    }

    func testBadArgumentsAreNamedErrors() {
        XCTAssertThrowsError(try engine.topK(ids: [50257], k: 3)) { XCTAssertEqual($0 as? EngineError, .invalidTokenId(50257, vocabSize: 50257)) }
        XCTAssertThrowsError(try engine.topK(ids: [-1], k: 3)) { XCTAssertEqual($0 as? EngineError, .invalidTokenId(-1, vocabSize: 50257)) }
        XCTAssertThrowsError(try engine.topK(ids: prompt, k: 0))
        XCTAssertThrowsError(try engine.topK(ids: prompt, k: 50258))
        XCTAssertThrowsError(try engine.decode([99999]))
        XCTAssertThrowsError(try engine.generate(ids: prompt, options: options { $0.temperature = -1 }))
        XCTAssertThrowsError(try engine.generate(ids: prompt, options: options { $0.topP = 0 }))
        XCTAssertThrowsError(try engine.generate(ids: prompt, options: options { $0.logprobs = 21 }))
        XCTAssertThrowsError(try engine.generate(ids: prompt, options: options { $0.maxTokens = -1 }))
    }

    func testCancellation() throws {
        let flag = CancellationFlag()
        flag.cancel()
        XCTAssertThrowsError(try engine.topK(ids: prompt, k: 3, cancel: flag)) { XCTAssertEqual($0 as? EngineError, .cancelled) }
        let g = try engine.generate(ids: prompt, options: options { $0.maxTokens = 8 }, cancel: flag)
        XCTAssertEqual(g.finishReason, .cancelled)
        XCTAssertEqual(g.ids, [])
        // Cancelled from inside the stream after three tokens.
        let later = CancellationFlag()
        var seen = 0
        let h = try engine.generate(ids: prompt, options: options { $0.maxTokens = 16; $0.stopAtEndOfText = false }, cancel: later) { _ in
            seen += 1
            if seen == 3 { later.cancel() }
        }
        XCTAssertEqual(h.finishReason, .cancelled)
        XCTAssertEqual(h.ids.count, 3)
    }

    func testTokenizeGivesOffsetsAndPieces() {
        let spans = engine.tokenize("This weekend I plan to", addPrefixSpace: true)
        XCTAssertEqual(spans.map(\.id), [770, 5041, 314, 1410, 284])
        XCTAssertEqual(spans.map(\.text), [" This", " weekend", " I", " plan", " to"])
        XCTAssertEqual(spans.map(\.start), [0, 4, 12, 14, 19])
        XCTAssertEqual(spans.map(\.end), [4, 12, 14, 19, 22])
    }
}
