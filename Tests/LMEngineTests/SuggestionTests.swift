import Foundation
@testable import LMEngine
import TestSupport
import XCTest

/// `suggest`: token healing, branching and boundaries.
final class SuggestionTests: XCTestCase {
    var engine: Engine { GoldenTests.engine }

    private func options(_ edit: (inout SuggestionOptions) -> Void) -> SuggestionOptions {
        var o = SuggestionOptions(); edit(&o); return o
    }

    func testHealingKeepsWhatWasTyped() throws {
        // 76 GPT-2 tokens start with " we"; asking for all of them must include " were" as insert "re".
        let allowed = engine.tokensStarting(with: Array(" we".utf8))
        XCTAssertEqual(allowed.count, 76)
        let result = try engine.suggest(text: "I wish I we", options: options { $0.count = 76; $0.maxTokens = 1 })
        XCTAssertEqual(result.healed, " we")
        XCTAssertEqual(result.suggestions.count, 76)
        for s in result.suggestions {
            XCTAssertTrue(engine.tokenizer.tokenBytes(s.ids[0])!.starts(with: Array(" we".utf8)), "first token ignores the typed 'we': \(s)")
        }
        let were = try XCTUnwrap(result.suggestions.first { $0.ids == [547] })
        XCTAssertEqual(were.insert, "re")
        XCTAssertEqual(were.label, "were")
        // Renormalised over the allowed tokens: their probabilities add up to one.
        let total = result.suggestions.reduce(0.0) { $0 + exp(Double($1.logprob)) }
        XCTAssertEqual(total, 1, accuracy: 1e-4)
        // Best first.
        XCTAssertEqual(result.suggestions.map(\.logprob), result.suggestions.map(\.logprob).sorted(by: >))
    }

    func testUnhealedSuggestionsAppendAfterTheText() throws {
        let result = try engine.suggest(text: "I wish I we", options: options { $0.heal = false; $0.maxTokens = 1 })
        XCTAssertEqual(result.healed, "")
        let top = try engine.topK(ids: engine.encode("I wish I we", addPrefixSpace: false), k: 5)
        XCTAssertEqual(result.suggestions.map { $0.ids[0] }, top.ids)
        XCTAssertEqual(result.suggestions.map(\.insert), top.tokens)
    }

    func testWordBoundary() throws {
        // Only one token starts with " brown": healing offers only what agrees with the typed word.
        let brown = try engine.suggest(text: "The quick brown", options: options { $0.count = 5 })
        XCTAssertEqual(brown.suggestions.count, engine.tokensStarting(with: Array(" brown".utf8)).count)
        // After a space, the space is healed into the next word's token.
        let result = try engine.suggest(text: "The quick brown ", options: options { $0.count = 5; $0.maxTokens = 8; $0.stopAt = .word })
        XCTAssertEqual(result.healed, " ")
        XCTAssertEqual(result.suggestions.count, 5)
        for s in result.suggestions {
            let bytes = Array(s.insert.utf8)
            if let first = bytes.firstIndex(where: Engine.isWordByte) {
                XCTAssertFalse(bytes[first...].contains { !Engine.isWordByte($0) }, "insert \(s.insert.debugDescription) runs past a word")
            }
            XCTAssertLessThanOrEqual(s.ids.count, 8)
            XCTAssertFalse(s.label.hasPrefix(" "))
        }
    }

    func testLineBoundaryAndNone() throws {
        let line = try engine.suggest(text: "def f(x):", options: options { $0.stopAt = .line; $0.maxTokens = 6 })
        for s in line.suggestions { XCTAssertFalse(s.insert.contains("\n"), s.insert) }
        let none = try engine.suggest(text: "def f(x):", options: options { $0.stopAt = .none; $0.maxTokens = 4; $0.count = 2 })
        for s in none.suggestions { XCTAssertEqual(s.ids.count, 4) }
    }

    func testBranchesMatchGreedyFromTheirFirstToken() throws {
        // Each branch shares the context pass; its continuation must equal a fresh greedy run.
        let text = "In a shocking finding"
        let result = try engine.suggest(text: text, options: options { $0.stopAt = .none; $0.maxTokens = 4; $0.count = 3; $0.heal = false })
        let context = engine.encode(text, addPrefixSpace: false)
        for s in result.suggestions {
            var o = GenerationOptions(); o.maxTokens = 3; o.stopAtEndOfText = false
            let g = try engine.generate(ids: context + [s.ids[0]], options: o)
            XCTAssertEqual(Array(s.ids.dropFirst()), g.ids)
        }
    }

    func testBadOptions() {
        XCTAssertThrowsError(try engine.suggest(text: "x", options: options { $0.count = 0 }))
        XCTAssertThrowsError(try engine.suggest(text: "x", options: options { $0.maxTokens = 0 }))
    }
}
