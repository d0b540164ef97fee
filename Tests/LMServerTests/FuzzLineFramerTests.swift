import TestSupport
import XCTest
@testable import LMServer

/// Seeded fuzzing of the line framer (issue "Reliability and security", item 4): for any byte stream and
/// any way of splitting it into reads, the lines framed are the lines sent, and the first line longer
/// than the limit is reported (and nothing is framed after it). See fuzz/README.md.
final class FuzzLineFramerTests: XCTestCase {
    /// What a framer must produce for the whole stream: the complete lines up to the first over-long one
    /// (complete or not), then `.tooLong`; whether that line's newline was in the stream; the unfinished tail.
    static func expected(_ stream: [UInt8], limit: Int) -> (events: [LineFramer.Event], ended: Bool, tail: Int) {
        var events: [LineFramer.Event] = []
        var start = 0
        while start <= stream.count {
            let newline = stream[start...].firstIndex(of: 0x0A)
            let end = newline ?? stream.count
            if end - start > limit {
                events.append(.tooLong)
                return (events, newline != nil, 0)
            }
            guard let newline else { return (events, false, stream.count - start) }
            events.append(.line(Array(stream[start..<newline])))
            start = newline + 1
        }
        return (events, false, 0)
    }

    /// Random lines (empty, short, around the limit, over it), bytes of every value but the newline.
    static func stream(_ rng: inout FuzzRandom, limit: Int) -> [UInt8] {
        var s: [UInt8] = []
        for k in 0..<rng.int(0...12) {
            if k > 0 || rng.chance(0.1) { s.append(0x0A) }
            let length: Int
            switch rng.int(0...9) {
            case 0: length = 0
            case 1, 2: length = max(0, limit + rng.int(-2...2))
            case 3 where rng.chance(0.3): length = limit * 2 + rng.int(0...50)
            default: length = rng.int(0...max(1, limit - 1))
            }
            for _ in 0..<length {
                let b = rng.chance(0.7) ? UInt8(ascii: "a") &+ UInt8(rng.int(0...25)) : rng.byte()
                s.append(b == 0x0A ? 0x0B : b)
            }
        }
        if rng.chance(0.6) { s.append(0x0A) }
        if rng.chance(0.2) { s += [0x0A, 0x0A] }
        return s
    }

    func testLinesRecoveredEqualLinesSentForAnySplit() {
        var lines = 0, overflows = 0
        let ran = FuzzRunner("line-framer", cases: 40_000, seed: 31).run(in: self) { rng, label in
            let limit = rng.chance(0.9) ? rng.int(1...40) : rng.int(-2...300)
            let effective = max(1, limit)
            let bytes = Self.stream(&rng, limit: effective)
            let want = Self.expected(bytes, limit: effective)
            var framer = LineFramer(maxLineLength: limit)
            XCTAssertEqual(framer.maxLineLength, effective)
            var got: [LineFramer.Event] = []
            var fed = 0
            var failedEarly = false
            while fed < bytes.count || (fed == 0 && rng.chance(0.5)) {
                // Chunks of any size, sometimes empty, fed as arrays or as pointers into one buffer.
                let size = rng.chance(0.1) ? 0 : rng.int(1...max(1, min(bytes.count - fed, rng.chance(0.5) ? 4 : 64)))
                let chunk = Array(bytes[fed..<min(bytes.count, fed + size)])
                let events = rng.chance(0.5) ? framer.append(chunk) : chunk.withUnsafeBufferPointer { framer.append($0) }
                if failedEarly { XCTAssertEqual(events, [], "\(label): framed after the over-long line") }
                if events.contains(.tooLong) {
                    XCTAssertEqual(events.last, .tooLong, "\(label): .tooLong must be the last event")
                    failedEarly = true
                }
                got += events
                fed += chunk.count
                if size == 0 && fed >= bytes.count { break }
            }
            let context = "\(label): limit \(limit), stream \(bytes.fuzzDescription)"
            XCTAssertEqual(got, want.events, context)
            XCTAssertEqual(framer.failed, want.events.last == .tooLong, context)
            if framer.failed {
                XCTAssertEqual(framer.overlongLineEnded, want.ended, "\(context): whether the long line ended")
                XCTAssertEqual(framer.bufferedByteCount, 0, "\(context): the long line is not kept")
                XCTAssertLessThanOrEqual(framer.discardedByteCount, bytes.count, context)
                overflows += 1
            } else {
                XCTAssertEqual(framer.bufferedByteCount, want.tail, "\(context): the unfinished line is kept whole")
            }
            lines += got.count
        }
        print("fuzz line-framer: \(lines) lines, \(overflows) streams with an over-long line")
        if ran >= 1_000 { XCTAssertGreaterThan(overflows, 0, "the generator should make over-long lines") }
    }
}
