import TestSupport
import Foundation
import LMEngine
import LMProtocol
import XCTest

@testable import LMServer

/// Seeded fuzzing of `tokenize` with ids input (TokenizeHandler.splitIDs): ids that split characters,
/// mixed with whole tokens and random ones, must give contiguous offsets on character boundaries that
/// cover the decoded text.
final class FuzzTokenizeIdsTests: XCTestCase {
    static let texts = ["😀", "👩\u{200D}👩\u{200D}👧", "日本語", "café", "é", "\u{301}", "🇫🇷", " the", "Hello", "ｶﾀｶﾅ", "\u{10FFFF}", "\n", "<|endoftext|>"]

    func testOffsetsOfAnyIdsAreContiguousOnCharacterBoundaries() throws {
        let engine = try TinyEngine.get()
        let vocab = engine.info.vocabSize
        // Ids of texts whose characters span several tokens, so that tokens hold parts of characters.
        let pool = Self.texts.map { engine.encode($0, addPrefixSpace: false) }
        FuzzRunner("tokenize-ids", cases: 20_000, seed: 51).run(in: self) { rng, label in
            var ids: [Int] = []
            for _ in 0..<rng.int(0...8) {
                switch rng.int(0...5) {
                case 0: ids.append(rng.int(0...(vocab - 1)))
                case 1:  // part of a multi-token character
                    let piece = rng.pick(pool)
                    ids += piece.prefix(rng.int(0...piece.count))
                default: ids += rng.pick(pool)
                }
            }
            if rng.chance(0.2) { ids.shuffle(using: &rng) }
            let context = "\(label): ids \(ids)"
            let result: TokenizeResult
            do {
                result = try TokenizeHandler.splitIDs(ids, engine: engine, cancel: CancellationFlag())
            } catch {
                XCTFail("\(context): \(error)")
                return
            }
            let text = try? engine.decode(ids)
            XCTAssertEqual(result.text, text, context)
            let bytes = Array((result.text ?? "").utf8)
            XCTAssertEqual(result.ids, ids, context)
            XCTAssertEqual(result.offsets.count, ids.count, context)
            XCTAssertEqual(result.tokens.count, ids.count, context)
            var position = 0
            for (k, range) in result.offsets.enumerated() {
                XCTAssertEqual(range.lowerBound, position, "\(context): offset \(k) \(range) does not continue at \(position)")
                XCTAssertLessThanOrEqual(range.upperBound, bytes.count, "\(context): offset \(k) \(range) past the text")
                let onBoundary = range.upperBound >= bytes.count || bytes[range.upperBound] & 0xC0 != 0x80
                XCTAssertTrue(onBoundary, "\(context): offset \(k) \(range) ends inside a character of \(bytes)")
                position = range.upperBound
            }
            XCTAssertEqual(position, bytes.count, "\(context): the offsets stop at \(position) of \(bytes.count) bytes")
            // Where every token is whole characters, each range is exactly that token's bytes.
            let own = ids.map { engine.tokenizer.tokenBytes($0) ?? [] }
            if own.allSatisfy({ String(validating: $0, as: UTF8.self) != nil }) {
                var start = 0
                let exact = own.map { b -> Range<Int> in defer { start += b.count }; return start..<(start + b.count) }
                XCTAssertEqual(result.offsets, exact, "\(context): whole-character tokens")
            }
        }
    }
}

extension FuzzTokenizeIdsTests {
    /// Found by the test above. "ｶﾀ" (U+FF76 U+FF80, EF BD B6 EF BE 80) encodes as one token per byte.
    /// Decoded alone, the first fragment is U+FFFD (EF BF BD), whose first byte equals the real
    /// character's, so splitIDs's byte-by-byte match stopped one byte into the character: the fragment
    /// got [0, 1) instead of the empty range at the character's start ([0,1) [1,1) [1,3) for [0,0) [0,0) [0,3)).
    func testIdsSplittingAFullwidthCharacterEndWhereItStarts() throws {
        let engine = try TinyEngine.get()
        let text = "ｶﾀ"
        let ids = engine.encode(text, addPrefixSpace: false)
        let own = ids.map { engine.tokenizer.tokenBytes($0) ?? [] }
        XCTAssertGreaterThan(ids.count, 2, "the characters are split into several tokens: \(own)")
        let result = try TokenizeHandler.splitIDs(ids, engine: engine, cancel: CancellationFlag())
        // Token k ends at the last character boundary at or before the end of its bytes; the next starts there.
        let bytes = Array(text.utf8)
        var expected: [Range<Int>] = []
        var byteEnd = 0, previous = 0
        for b in own {
            byteEnd += b.count
            var boundary = byteEnd
            while boundary < bytes.count, bytes[boundary] & 0xC0 == 0x80 { boundary -= 1 }
            expected.append(previous..<boundary)
            previous = boundary
        }
        XCTAssertEqual(result.offsets, expected, "token bytes \(own)")
    }
}

extension FuzzTokenizeIdsTests {
    /// Found by the fuzz test above. Ids 171, 105, 198 are the bytes EF, AC, 0A: EF AC is the start of a
    /// three-byte character cut short, which decodes (together) as one U+FFFD, then "\n". splitIDs decoded
    /// EF alone as U+FFFD, saw it match the text's U+FFFD and closed its window there; AC then never matched
    /// again, so the newline got an empty range and the offsets stopped at byte 3 of 4 ([0,3) [3,3) [3,3)).
    func testIdsOfACutCharacterThenANewlineCoverTheText() throws {
        let engine = try TinyEngine.get()
        let ids = [171, 105, 198]
        XCTAssertEqual(ids.map { engine.tokenizer.tokenBytes($0) ?? [] }, [[0xEF], [0xAC], [0x0A]])
        let result = try TokenizeHandler.splitIDs(ids, engine: engine, cancel: CancellationFlag())
        XCTAssertEqual(result.text, "\u{FFFD}\n")
        XCTAssertEqual(result.offsets, [0..<0, 0..<3, 3..<4], "EF ends inside the U+FFFD that EF AC became; AC ends it; then the newline")
    }
}
