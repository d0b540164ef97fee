@testable import LMTokenizer
import XCTest

/// The hand scanner against the regex's splits (expected pieces as Python's `regex` module gives them
/// for GPT-2's pattern; its `\s` is the same White_Space set as Oniguruma's).
final class PreTokenizerTests: XCTestCase {
    private func pieces(_ text: String) -> [String] {
        var text = text
        var result: [String] = []
        text.withUTF8 { bytes in
            var scanner = PreTokenizer(bytes: bytes, start: 0, end: bytes.count)
            while let range = scanner.next() { result.append(String(decoding: bytes[range], as: UTF8.self)) }
        }
        return result
    }

    func testWhitespaceRunsLeaveTheirLastSpaceToTheNextWord() {
        XCTAssertEqual(pieces("a  b   c"), ["a", " ", " b", "  ", " c"])
        XCTAssertEqual(pieces("x \t\n y"), ["x", " \t\n", " y"])
        XCTAssertEqual(pieces("hi  "), ["hi", "  "])
        XCTAssertEqual(pieces("  "), ["  "])
        XCTAssertEqual(pieces(" \u{3000}a"), [" ", "\u{3000}", "a"])
    }

    func testUnicodeWhitespaceIsWhiteSpaceProperty() {
        XCTAssertEqual(pieces("\u{A0}non\u{A0}space"), ["\u{A0}", "non", "\u{A0}", "space"])
        XCTAssertEqual(pieces("zero\u{200B}width"), ["zero", "\u{200B}", "width"])
        XCTAssertEqual(pieces("a\u{85}b"), ["a", "\u{85}", "b"])
        XCTAssertEqual(pieces("a\u{1C} b"), ["a", "\u{1C}", " b"])
        XCTAssertEqual(PreTokenizer.classify(0x2028), .whitespace)
        XCTAssertEqual(PreTokenizer.classify(0x200B), .other)
        XCTAssertEqual(PreTokenizer.classify(0x1C), .other)
    }

    func testContractionsAreLowercaseOnlyAndPunctuationRunsAbsorbQuotes() {
        XCTAssertEqual(pieces("''s don't 'S"), ["''", "s", " don", "'t", " '", "S"])
        XCTAssertEqual(pieces("we've I'll he'd I'm"), ["we", "'ve", " I", "'ll", " he", "'d", " I", "'m"])
        XCTAssertEqual(pieces("!!! ?"), ["!!!", " ?"])
    }

    func testScalarsNotGraphemes() {
        // A combining accent is not a letter, so "é" spelt e + U+0301 splits; a Character-based scanner
        // would keep the grapheme whole.
        XCTAssertEqual(pieces("e\u{301}t\u{E9}"), ["e", "\u{301}", "t\u{E9}"])
        XCTAssertEqual(pieces("\u{B2}\u{2167}x"), ["\u{B2}\u{2167}", "x"])
        XCTAssertEqual(pieces("👩\u{200D}👧 ok"), ["👩\u{200D}👧", " ok"])
    }

    func testUnicode17CharactersAreOther() {
        XCTAssertEqual(pieces("\u{32531}'m"), ["\u{32531}'", "m"])
        XCTAssertEqual(PreTokenizer.classify(0x88F), .other)
        XCTAssertEqual(PreTokenizer.classify(0x11DE0), .other)
        XCTAssertEqual(PreTokenizer.classify(0x4E00), .letter)
    }

    func testEmptyText() {
        XCTAssertEqual(pieces(""), [])
    }
}
