import Foundation
@testable import LMTokenizer
import TestSupport
import XCTest

/// Seeded random checks: lossless round trips, offsets, the fast merge against the reference one, the
/// cache against no cache, and threads against one thread.
final class TokenizerPropertyTests: XCTestCase {
    static let pieces = [" ", "  ", "\t", "\n", "\r\n", "\u{A0}", "\u{200B}", "\u{85}", "\u{3000}", "'", "'s", "'ll",
                         "a", "Z", "é", "e\u{301}", "\u{301}", "ß", "日本語", "ｶﾀｶﾅ", "1", "42", "²", "½", "!", "?!", "…",
                         "😀", "👩\u{200D}👩\u{200D}👧", "🇫🇷", "👍🏽", "Ωμέγα", "привет", "مرحبا", "한국어", "\u{FEFF}",
                         "\u{1D400}", " the", "word", "<|endoftext|>", "<|", "\0", "\u{7F}"]

    static func randomString(_ rng: inout FuzzRandom) -> String {
        var s = ""
        for _ in 0..<Int.random(in: 0...30, using: &rng) {
            if Int.random(in: 0..<10, using: &rng) < 8 {
                s += pieces.randomElement(using: &rng) ?? ""
            } else if let scalar = Unicode.Scalar(UInt32.random(in: 0x80...0x2FFFF, using: &rng)) {
                s.unicodeScalars.append(scalar)
            }
        }
        return s
    }

    func testRandomStringsRoundTripExactly() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        var rng = FuzzRandom(seed: 20_261_130)
        for i in 0..<2_000 {
            let text = Self.randomString(&rng)
            for (prefix, split) in [(false, false), (true, true)] {
                let tokens = tokenizer.encodeWithOffsets(text, addPrefixSpace: prefix, splitSpecialTokens: split)
                var decoded = try tokenizer.decodeBytes(tokens.map(\.id))
                if prefix, !text.isEmpty, !decoded.isEmpty, decoded[0] == 0x20, text.utf8.first != 0x20 {
                    decoded.removeFirst()
                }
                if !prefix {
                    XCTAssertEqual(decoded, Array(text.utf8), "string \(i): \(text.debugDescription)")
                    XCTAssertEqual(try tokenizer.decode(tokens.map(\.id)), text)
                }
                OffsetChecks.check(tokens, text: text, tokenizer: tokenizer, context: "string \(i)")
            }
        }
    }

    func testHeapMergeEqualsReferenceMerge() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        var rng = FuzzRandom(seed: 7)
        let alphabet = Array("aeinorst ththeingion0123456789.,-*=".utf8) + Array("éü日😀".utf8)
        for _ in 0..<300 {
            let length = Int.random(in: 2...200, using: &rng)
            let word = (0..<length).map { _ in alphabet.randomElement(using: &rng) ?? 0x61 }
            var quadratic = word.map { tokenizer.byteIds[Int($0)] }
            var heap = quadratic
            tokenizer.merges.mergeQuadratic(&quadratic)
            tokenizer.merges.mergeWithHeap(&heap)
            XCTAssertEqual(heap, quadratic, String(decoding: word, as: UTF8.self))
        }
    }

    func testLongWordsUseTheHeapAndRoundTrip() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        for text in [String(repeating: "1234567890", count: 2_000), String(repeating: "abc", count: 5_000),
                     String(repeating: "-=", count: 3_000), String(repeating: "日本", count: 1_000)] {
            let ids = tokenizer.encode(text)
            XCTAssertLessThan(ids.count, text.utf8.count)
            XCTAssertEqual(try tokenizer.decode(ids), text)
        }
    }

    func testWarmCacheGivesTheSameIdsAsCold() throws {
        let tokenizer = try GPT2Tokenizer.load(directory: Fixtures.tinyModel)
        var rng = FuzzRandom(seed: 99)
        let text = (0..<300).map { _ in Self.randomString(&rng) }.joined(separator: " ")
        tokenizer.clearCache()
        XCTAssertEqual(tokenizer.cachedWordCount, 0)
        let cold = tokenizer.encode(text)
        XCTAssertGreaterThan(tokenizer.cachedWordCount, 0)
        let warm = tokenizer.encode(text)
        XCTAssertEqual(cold, warm)
        XCTAssertEqual(try tokenizer.decode(cold), text)
    }

    func testConcurrentEncodingAgreesWithSerial() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        var rng = FuzzRandom(seed: 5)
        let texts = (0..<64).map { _ in (0..<20).map { _ in Self.randomString(&rng) }.joined() }
        tokenizer.clearCache()
        var results = [[Int]](repeating: [], count: texts.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = buffer
            DispatchQueue.concurrentPerform(iterations: texts.count) { i in out[i] = tokenizer.encode(texts[i]) }
        }
        tokenizer.clearCache()
        for (i, text) in texts.enumerated() { XCTAssertEqual(results[i], tokenizer.encode(text), "text \(i)") }
    }
}
