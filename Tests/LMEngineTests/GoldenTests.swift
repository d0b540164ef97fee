import Foundation
import LMEngine
import TestSupport
import XCTest

/// The engine against HF transformers' own outputs for the tiny model.
final class GoldenTests: XCTestCase {
    static let engine: Engine = try! Engine.load(modelDirectory: Fixtures.tinyModel, options: { var o = EngineOptions(); o.threads = 2; return o }())
    static let cases: [ExpectedCase] = try! Expected.cases()
    let logitTolerance: Float = 1e-3

    func testPromptIdsMatchHF() {
        for c in Self.cases {
            XCTAssertEqual(Self.engine.encode(c.prompt, addPrefixSpace: c.addPrefixSpace), c.ids, c.label)
        }
    }

    func testLogitsAtEveryGivenPosition() throws {
        var overall: Float = 0
        for c in Self.cases {
            let result = try Self.engine.forward(ids: c.ids, positions: .all)
            XCTAssertEqual(result.rows, c.ids.count)
            XCTAssertEqual(result.vocabSize, 50257)
            // "last" cases hold only the last row of the full forward.
            let firstRow = c.ids.count - c.logitRows
            var maxDiff: Float = 0
            for r in 0..<c.logitRows {
                for j in 0..<50257 {
                    let d = abs(result.values[(firstRow + r) * 50257 + j] - c.logits[r * 50257 + j])
                    if !(d <= maxDiff) { maxDiff = d }
                }
            }
            print("golden logits \(c.label): rows \(c.logitRows), max |diff| \(maxDiff)")
            XCTAssertLessThanOrEqual(maxDiff, logitTolerance, "\(c.label): max logit difference \(maxDiff)")
            overall = max(overall, maxDiff)
        }
        print("golden logits: max |diff| over all cases \(overall)")
    }

    func testLastPositionOnlyEqualsLastRowOfAll() throws {
        let c = Self.cases[0]
        let all = try Self.engine.forward(ids: c.ids, positions: .all)
        let last = try Self.engine.forward(ids: c.ids, positions: .last)
        XCTAssertEqual(last.rows, 1)
        XCTAssertEqual(Array(all.values.suffix(50257)), last.values)
    }

    func testTop20() throws {
        for c in Self.cases {
            let top = try Self.engine.topK(ids: c.ids, k: 20)
            XCTAssertEqual(top.ids.count, 20)
            for i in 0..<20 where top.ids[i] != c.top20Ids[i] {
                // Neighbours may swap only where the reference gap is under the tolerance.
                let j = c.top20Ids.firstIndex(of: top.ids[i])
                XCTAssertNotNil(j, "\(c.label): id \(top.ids[i]) not in HF's top 20")
                if let j {
                    XCTAssertLessThan(abs(c.top20Logits[j] - c.top20Logits[i]), logitTolerance, "\(c.label): rank \(i) swapped beyond the tolerance")
                }
            }
            for (i, id) in top.ids.enumerated() {
                guard let j = c.top20Ids.firstIndex(of: id) else { continue }
                XCTAssertEqual(top.logits[i], c.top20Logits[j], accuracy: logitTolerance, c.label)
                XCTAssertEqual(top.probs[i], c.top20Probs[j], accuracy: 1e-4, c.label)
                XCTAssertEqual(top.tokens[i], c.top20Tokens[j], c.label)
            }
            XCTAssertFalse(top.truncated)
        }
    }

    func testGreedy16ThroughTheKVCache() throws {
        var options = GenerationOptions()
        options.maxTokens = 16
        options.stopAtEndOfText = false
        for c in Self.cases {
            let g = try Self.engine.generate(ids: c.ids, options: options)
            XCTAssertEqual(g.ids, c.greedyIds, c.label)
            XCTAssertEqual(g.text, c.greedyText, c.label)
            XCTAssertEqual(g.finishReason, .length)
        }
    }

    func testCachedDecodingMatchesAFullForward() throws {
        // The logits of the last generated position, computed step by step through the cache, equal
        // those of one forward over the whole sequence.
        let c = Self.cases[2]
        var options = GenerationOptions()
        options.maxTokens = 8
        options.stopAtEndOfText = false
        options.logprobs = 1
        let g = try Self.engine.generate(ids: c.ids, options: options)
        let full = try Self.engine.forward(ids: c.ids + g.ids.dropLast(), positions: .all)
        for (step, token) in g.tokens.enumerated() {
            let row = c.ids.count - 1 + step
            let values = Array(full.values[(row * 50257)..<((row + 1) * 50257)])
            let best = values.indices.max { values[$0] < values[$1] }!
            XCTAssertEqual(token.id, best, "step \(step)")
        }
    }

    func testNotebookFacts() throws {
        XCTAssertEqual(Self.engine.encode("This weekend I plan to", addPrefixSpace: true), [770, 5041, 314, 1410, 284])
        XCTAssertEqual(try Self.engine.tokenText(467), " go")
    }
}

/// `Engine.load` takes a GGUF file as well as a folder.
final class GGUFLoadTests: XCTestCase {
    func testEngineLoadsAGGUFFileAndMatchesTheFolder() throws {
        let url = Fixtures.root.appendingPathComponent("tiny-gpt2-gguf/tiny-gpt2-f32.gguf")
        let engine = try Engine.load(modelDirectory: url)
        XCTAssertEqual(engine.info.model, "tiny-gpt2-f32")
        let ids = engine.encode("I wish I were", addPrefixSpace: true)
        XCTAssertEqual(ids, [314, 4601, 314, 547])
        XCTAssertEqual(try engine.topK(ids: ids, k: 20).logits, try GoldenTests.engine.topK(ids: ids, k: 20).logits)
    }
}
