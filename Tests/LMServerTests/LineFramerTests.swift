import XCTest
@testable import LMServer

final class LineFramerTests: XCTestCase {
    private func lines(_ events: [LineFramer.Event]) -> [String] {
        events.compactMap { if case let .line(l) = $0 { return String(decoding: l, as: UTF8.self) } else { return nil } }
    }

    func testSplitsOnNewlinesAcrossChunks() {
        var framer = LineFramer(maxLineLength: 100)
        XCTAssertEqual(lines(framer.append(Array("ab".utf8))), [])
        XCTAssertEqual(framer.bufferedByteCount, 2)
        XCTAssertEqual(lines(framer.append(Array("c\nde\n\nf".utf8))), ["abc", "de", ""])
        XCTAssertEqual(lines(framer.append(Array("g\n".utf8))), ["fg"])
        XCTAssertEqual(framer.bufferedByteCount, 0)
        XCTAssertFalse(framer.failed)
    }

    func testLineOfExactlyTheLimitPassesOneMoreFails() {
        var framer = LineFramer(maxLineLength: 8)
        XCTAssertEqual(lines(framer.append(Array("12345678\n".utf8))), ["12345678"])
        let events = framer.append(Array("123456789\nnext\n".utf8))
        XCTAssertEqual(events, [.tooLong])
        XCTAssertTrue(framer.failed)
        XCTAssertTrue(framer.overlongLineEnded, "the newline ending the long line was in the same chunk")
        XCTAssertEqual(framer.append(Array("more\n".utf8)), [], "nothing is framed after a failure")
    }

    func testOverflowWithoutNewlineIsReportedEarlyAndTheRestIsDiscarded() {
        var framer = LineFramer(maxLineLength: 10)
        XCTAssertEqual(lines(framer.append(Array("ok\n0123456".utf8))), ["ok"])
        XCTAssertEqual(framer.append(Array("789abc".utf8)), [.tooLong], "reported before the newline arrives")
        XCTAssertFalse(framer.overlongLineEnded)
        XCTAssertEqual(framer.bufferedByteCount, 0, "the long line is not kept")
        _ = framer.append(Array(repeating: UInt8(ascii: "x"), count: 50))
        XCTAssertFalse(framer.overlongLineEnded)
        XCTAssertEqual(framer.discardedByteCount, 50)
        _ = framer.append(Array("xx\nnext".utf8))
        XCTAssertTrue(framer.overlongLineEnded)
    }

    func testLinesBeforeAnOverflowInTheSameChunkAreDelivered() {
        var framer = LineFramer(maxLineLength: 4)
        XCTAssertEqual(framer.append(Array("a\nbb\ncccccc\n".utf8)), [.line(Array("a".utf8)), .line(Array("bb".utf8)), .tooLong])
    }

    func testDefaultLimitIs16MiB() {
        XCTAssertEqual(LineFramer().maxLineLength, 16 * 1024 * 1024)
    }
}
