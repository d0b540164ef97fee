import LMProtocol
import XCTest

/// Compact output, escapes, number forms, and round trips through the parser.
final class JSONSerializerTests: XCTestCase {
    private func text(_ v: JSONValue) -> String { String(decoding: v.serialized(), as: UTF8.self) }

    func testCompactOutput() {
        let v: JSONValue = ["a": [1, 2.5, "x", nil, true, false], "b": [:], "c": []]
        XCTAssertEqual(text(v), #"{"a":[1,2.5,"x",null,true,false],"b":{},"c":[]}"#)
        XCTAssertEqual(v.description, text(v))
    }

    func testStringEscapes() {
        XCTAssertEqual(text(.string("q\"b\\s/")), #""q\"b\\s/""#)
        XCTAssertEqual(text(.string("\n\r\t\u{8}\u{c}")), #""\n\r\t\b\f""#)
        XCTAssertEqual(text(.string("\u{0}\u{1}\u{1f}\u{7f}")), "\"\\u0000\\u0001\\u001f\u{7f}\"")
        XCTAssertEqual(text(.string("a\u{2028}b\u{2029}c")), #""a\u2028b\u2029c""#)
        XCTAssertEqual(text(.string("é😀€")), "\"é😀€\"")
    }

    func testIntegers() {
        XCTAssertEqual(text(.int(0)), "0")
        XCTAssertEqual(text(.int(7)), "7")
        XCTAssertEqual(text(.int(-42)), "-42")
        XCTAssertEqual(text(.int(Int.max)), "9223372036854775807")
        XCTAssertEqual(text(.int(Int.min)), "-9223372036854775808")
    }

    func testDoubles() {
        XCTAssertEqual(text(.double(0.1)), "0.1")
        XCTAssertEqual(text(.double(0.1 + 0.2)), "0.30000000000000004")
        XCTAssertEqual(text(.double(1)), "1.0")
        XCTAssertEqual(text(.double(-0.0)), "-0.0")
        XCTAssertEqual(text(.double(1e300)), "1e+300")
        XCTAssertEqual(text(.double(.leastNonzeroMagnitude)), "5e-324")
        XCTAssertEqual(text(.double(.nan)), "null")
        XCTAssertEqual(text(.double(.infinity)), "null")
        XCTAssertEqual(text(.double(-.infinity)), "null")
    }

    func testFloat32ValuesPrintInFloatShortestForm() {
        // Logits are float32: widened to double they would print 17 digits of noise.
        XCTAssertEqual(text(.double(Double(Float(0.1)))), "0.1")
        XCTAssertEqual(text(.double(Double(Float(-3.14159)))), "-3.14159")
        XCTAssertEqual(text(.double(Double(Float.leastNonzeroMagnitude))), "1e-45")
        XCTAssertEqual(text(.double(Double(Float.greatestFiniteMagnitude))), "3.4028235e+38")
        XCTAssertEqual(text(.floats([1.5, -2.25e-8])), "[1.5,-2.25e-08]")
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            guard f.isFinite else { continue }
            let back = try? JSONValue.parse(JSONValue.double(Double(f)).serialized())
            XCTAssertEqual(back?.doubleValue.map(Float.init), f, "\(f)")
        }
    }

    func testRandomRoundTrips() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<300 {
            let v = randomValue(depth: 0, rng: &rng)
            let bytes = v.serialized()
            XCTAssertFalse(bytes.contains(0x0A), "one line")
            let back = try JSONValue.parse(bytes)
            XCTAssertEqual(back, v, String(decoding: bytes, as: UTF8.self))
            XCTAssertEqual(back.serialized(), bytes, "serialization is stable")
        }
    }

    func testReparsingEveryScalarKind() throws {
        let samples: [JSONValue] = [
            .int(Int.min), .int(Int.max), .double(-1.5e-300), .double(123456789.125), .string("\u{0}\u{2028}\"\\"),
            .string(String(repeating: "é", count: 1000)), .bool(false), .null,
        ]
        for s in samples { XCTAssertEqual(try JSONValue.parse(s.serialized()), s) }
    }

    private func randomValue(depth: Int, rng: inout SeededGenerator) -> JSONValue {
        let pick = Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &rng)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int.random(in: Int.min...Int.max, using: &rng) >> Int.random(in: 0..<64, using: &rng))
        case 3:
            // Random doubles are (almost) never exactly float32, so they print and parse back exactly.
            var d: Double
            repeat { d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)) } while !d.isFinite || Double(Float(d)) == d
            return .double(d)
        case 4:
            let scalars = (0..<Int.random(in: 0..<12, using: &rng)).map { _ -> Character in
                let ranges: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x7FF, 0x2028...0x2029, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
                let r = ranges[Int.random(in: 0..<ranges.count, using: &rng)]
                return Character(Unicode.Scalar(UInt32.random(in: r, using: &rng)) ?? "x")
            }
            return .string(String(scalars))
        case 5:
            return .array((0..<Int.random(in: 0..<5, using: &rng)).map { _ in randomValue(depth: depth + 1, rng: &rng) })
        default:
            var o = JSONObject()
            for k in 0..<Int.random(in: 0..<5, using: &rng) { o["k\(k)\(Int.random(in: 0..<3, using: &rng))"] = randomValue(depth: depth + 1, rng: &rng) }
            return .object(o)
        }
    }
}

/// SplitMix64: a reproducible generator for randomized tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
