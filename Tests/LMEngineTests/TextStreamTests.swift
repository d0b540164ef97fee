@testable import LMEngine
import XCTest

/// What streamed text may show, byte by byte.
final class TextStreamTests: XCTestCase {
    func testACharacterSplitAcrossTokensWaitsForItsLastByte() {
        var s = TextStream(stops: [])
        let e = Array("é".utf8)
        XCTAssertEqual(s.append([UInt8(ascii: "a"), e[0]]), "a")
        XCTAssertEqual(s.append([e[1], UInt8(ascii: "b")]), "éb")
        XCTAssertEqual(s.finish(), "")
        XCTAssertEqual(s.text, "aéb")
    }

    func testAnUnfinishedCharacterAtTheEndBecomesReplacement() {
        var s = TextStream(stops: [])
        XCTAssertEqual(s.append([0x61, 0xE6, 0x88]), "a")
        XCTAssertEqual(s.finish(), "\u{FFFD}")
        XCTAssertEqual(s.text, "a\u{FFFD}")
    }

    func testTextThatMightStartAStopStringIsHeldBack() {
        var s = TextStream(stops: ["\n\n"])
        XCTAssertEqual(s.append(Array("one\n".utf8)), "one")
        XCTAssertEqual(s.append(Array("two".utf8)), "\ntwo")
        XCTAssertEqual(s.append(Array("\n".utf8)), "")
        XCTAssertEqual(s.append(Array("\nthree".utf8)), "")
        XCTAssertEqual(s.stopIndex, 7)
        XCTAssertEqual(s.text, "one\ntwo")
        XCTAssertEqual(s.tokensBeforeStop, 2)
        XCTAssertEqual(s.finish(), "")
    }

    func testAStopStringInsideOneToken() {
        var s = TextStream(stops: ["END"])
        XCTAssertEqual(s.append(Array("abcENDdef".utf8)), "abc")
        XCTAssertEqual(s.text, "abc")
        XCTAssertEqual(s.tokensBeforeStop, 1)
    }

    func testIncompleteTail() {
        XCTAssertEqual(TextStream.incompleteTail([0x61]), 0)
        XCTAssertEqual(TextStream.incompleteTail([0xF0, 0x9F]), 2)
        XCTAssertEqual(TextStream.incompleteTail([0xF0, 0x9F, 0x98, 0x81]), 0)
        XCTAssertEqual(TextStream.incompleteTail([0x80]), 0)
    }
}
