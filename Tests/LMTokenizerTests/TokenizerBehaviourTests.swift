import Foundation
import LMTokenizer
import XCTest

/// Prefix space, special tokens, decoding and offsets on known examples.
final class TokenizerBehaviourTests: XCTestCase {
    func testPrefixSpaceExample() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.encode("This weekend I plan to", addPrefixSpace: true), [770, 5041, 314, 1410, 284])
        XCTAssertEqual(tokenizer.encode("This weekend I plan to"), [1212, 5041, 314, 1410, 284])
    }

    func testPrefixSpaceAppliesAroundSpecialTokens() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.encode("x<|endoftext|>y", addPrefixSpace: true), [2124, 50256, 331])
        XCTAssertEqual(tokenizer.encode("x<|endoftext|>y"), [87, 50256, 88])
        XCTAssertEqual(tokenizer.encode("<|endoftext|><|endoftext|>"), [50256, 50256])
    }

    func testVocabularyLookups() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, 50257)
        XCTAssertEqual(tokenizer.endOfTextId, 50256)
        XCTAssertEqual(try tokenizer.decode([467]), " go")
        XCTAssertEqual(tokenizer.tokenBytes(467), Array(" go".utf8))
        XCTAssertEqual(tokenizer.id(forToken: "Ġgo"), 467)
        XCTAssertEqual(tokenizer.tokenString(467), "Ġgo")
        XCTAssertEqual(tokenizer.id(forToken: "<|endoftext|>"), 50256)
        XCTAssertEqual(tokenizer.tokenBytes(50256), Array("<|endoftext|>".utf8))
        XCTAssertNil(tokenizer.tokenBytes(50257))
        XCTAssertNil(tokenizer.tokenBytes(-1))
        XCTAssertNil(tokenizer.id(forToken: "not a token at all"))
    }

    func testInvalidUTF8DecodesToReplacementCharacter() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        // "日" is E6 97 A5; the first of its tokens is the lone byte E6.
        let ids = tokenizer.encode("日")
        XCTAssertGreaterThan(ids.count, 1)
        let lone = try XCTUnwrap(tokenizer.id(forToken: "æ"))
        XCTAssertEqual(tokenizer.tokenBytes(lone), [0xE6])
        XCTAssertEqual(try tokenizer.decode([lone]), "\u{FFFD}")
        XCTAssertEqual(try tokenizer.decodeBytes([lone]), [0xE6])
        XCTAssertEqual(try tokenizer.decode([lone] + tokenizer.encode("A")), "\u{FFFD}A")
        XCTAssertEqual(try tokenizer.decode(ids), "日")
    }

    func testInvalidUTF8IsReplacedLikeHuggingFace() throws {
        // Single-byte token ids, their bytes, and the text HF's decode gives (each maximal invalid
        // subpart becomes one U+FFFD).
        let tokenizer = try TokenizerFixtures.tokenizer()
        let cases: [([Int], [UInt8], String)] = [
            ([162, 245], [0xE6, 0x97], "\u{FFFD}"),
            ([169, 254, 222], [0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([172, 253, 246, 32], [0xF0, 0x9F, 0x98, 0x41], "\u{FFFD}A"),
            ([124, 222], [0xC0, 0x80], "\u{FFFD}\u{FFFD}"),
            ([176, 238, 222, 222], [0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([162, 245, 98, 98], [0xE6, 0x97, 0xA5, 0xA5], "日\u{FFFD}"),
        ]
        for (ids, bytes, want) in cases {
            XCTAssertEqual(try tokenizer.decodeBytes(ids), bytes)
            XCTAssertEqual(Array(try tokenizer.decode(ids).unicodeScalars), Array(want.unicodeScalars), "\(bytes)")
        }
    }

    func testOffsetsOfPrefixSpaceAreZeroWidth() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        let tokens = tokenizer.encodeWithOffsets("This weekend", addPrefixSpace: true)
        XCTAssertEqual(tokens, [TokenOffset(id: 770, start: 0, end: 4), TokenOffset(id: 5041, start: 4, end: 12)])
        let special = tokenizer.encodeWithOffsets("x<|endoftext|>y", addPrefixSpace: true)
        XCTAssertEqual(special, [TokenOffset(id: 2124, start: 0, end: 1), TokenOffset(id: 50256, start: 1, end: 14),
                                 TokenOffset(id: 331, start: 14, end: 15)])
        // A prefix space that BPE leaves alone is a token of its own, covering nothing.
        XCTAssertEqual(tokenizer.encodeWithOffsets("\n", addPrefixSpace: true),
                       [TokenOffset(id: 220, start: 0, end: 0), TokenOffset(id: 198, start: 0, end: 1)])
    }

    func testOffsetsAreConsistentForEveryCase() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        for c in try TokenizerFixtures.cases() {
            for (prefix, split) in [(false, false), (true, false), (false, true)] {
                let tokens = tokenizer.encodeWithOffsets(c.text, addPrefixSpace: prefix, splitSpecialTokens: split)
                XCTAssertEqual(tokens.map(\.id), tokenizer.encode(c.text, addPrefixSpace: prefix, splitSpecialTokens: split))
                OffsetChecks.check(tokens, text: c.text, tokenizer: tokenizer, context: "line \(c.line) prefix \(prefix)")
            }
        }
    }
}

/// Checks that offsets tile the text and that each token not cut inside a character re-encodes to itself.
enum OffsetChecks {
    static func check(_ tokens: [TokenOffset], text: String, tokenizer: GPT2Tokenizer, context: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        let bytes = Array(text.utf8)
        var position = 0
        var covered: [UInt8] = []
        for token in tokens {
            guard token.start == position, token.end >= token.start, token.end <= bytes.count else {
                XCTFail("\(context): token \(token) does not continue at byte \(position)", file: file, line: line)
                return
            }
            let slice = Array(bytes[token.start..<token.end])
            covered += slice
            position = token.end
            let isBoundary = { (i: Int) in i == bytes.count || bytes[i] & 0xC0 != 0x80 }
            guard isBoundary(token.start), isBoundary(token.end), !slice.isEmpty else { continue }
            var want = tokenizer.tokenBytes(token.id) ?? []
            if want.count == slice.count + 1, want.first == 0x20 { want.removeFirst() }  // synthetic prefix space
            XCTAssertEqual(slice, want, "\(context): token \(token)", file: file, line: line)
        }
        XCTAssertEqual(covered, bytes, "\(context): offsets do not cover the text", file: file, line: line)
    }
}
