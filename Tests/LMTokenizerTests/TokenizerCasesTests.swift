import Foundation
import LMTokenizer
import TestSupport
import XCTest

/// The golden cases: every fixture line must give exactly HF's ids in all three settings, from both
/// file formats, and decode back to its text.
final class TokenizerCasesTests: XCTestCase {
    func testFixtureHasAllCases() throws {
        XCTAssertEqual(try TokenizerFixtures.cases().count, 150)
    }

    func testIdsMatchHuggingFace() throws {
        try checkCases(TokenizerFixtures.fromVocabAndMerges.get())
    }

    func testTokenizerJSONGivesTheSameIds() throws {
        try checkCases(TokenizerFixtures.fromTokenizerJSON.get())
    }

    func testRandomStringsMatchHuggingFace() throws {
        let cases = try TokenizerFixtures.parseCases(HFRandomCases.jsonLines)
        XCTAssertEqual(cases.count, 120)
        try checkCases(TokenizerFixtures.fromVocabAndMerges.get(), cases)
        try checkCases(TokenizerFixtures.fromTokenizerJSON.get(), cases)
        let tokenizer = try TokenizerFixtures.tokenizer()
        for c in cases { XCTAssertEqual(Array(try tokenizer.decode(c.ids).utf8), Array(c.text.utf8), "case \(c.line)") }
    }

    func testCharactersNewerThanHuggingFacesUnicodeAreUnassigned() throws {
        // HF's regex engine knows Unicode 16: these Unicode 17 letters/digits are "other" there.
        let tokenizer = try TokenizerFixtures.tokenizer()
        XCTAssertEqual(tokenizer.encode("\u{32531}'m"), [172, 110, 242, 109, 6, 76])
        XCTAssertEqual(tokenizer.encode("\u{88F}'s x"), [156, 95, 237, 6, 82, 2124])
        XCTAssertEqual(tokenizer.encode("a\u{11DE0}b"), [64, 172, 239, 115, 254, 65])
    }

    func testDecodeGivesBackTheText() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        for c in try TokenizerFixtures.cases() {
            let decoded = try tokenizer.decode(c.ids)
            XCTAssertEqual(Array(decoded.utf8), Array(c.text.utf8), "line \(c.line): \(c.text.debugDescription)")
        }
    }

    func testLoadDirectoryReadsTheFixtureModel() throws {
        let tokenizer = try GPT2Tokenizer.load(directory: Fixtures.tinyModel)
        XCTAssertEqual(tokenizer.vocabularySize, 50257)
        XCTAssertEqual(tokenizer.endOfTextId, 50256)
        XCTAssertEqual(tokenizer.encode("Hello world"), [15496, 995])
    }

    private func checkCases(_ tokenizer: GPT2Tokenizer, _ cases: [TokenizerFixtures.Case]? = nil,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        var mismatches = 0
        for c in try cases ?? TokenizerFixtures.cases() {
            let plain = tokenizer.encode(c.text)
            let prefixed = tokenizer.encode(c.text, addPrefixSpace: true)
            let split = tokenizer.encode(c.text, splitSpecialTokens: true)
            for (name, got, want) in [("ids", plain, c.ids), ("ids_prefix_space", prefixed, c.idsPrefixSpace),
                                      ("ids_split_special", split, c.idsSplitSpecial)] where got != want {
                mismatches += 1
                XCTFail("line \(c.line) \(name) of \(c.text.prefix(60).debugDescription): got \(got), want \(want)",
                        file: file, line: line)
            }
        }
        XCTAssertEqual(mismatches, 0, file: file, line: line)
    }
}
