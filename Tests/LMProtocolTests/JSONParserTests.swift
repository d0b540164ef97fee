import LMProtocol
import XCTest

/// Strict RFC 8259 parsing: what is accepted, and every way of being refused (with offsets).
final class JSONParserTests: XCTestCase {
    private func parse(_ text: String, maxDepth: Int = 512) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private func parseError(_ bytes: [UInt8], maxDepth: Int = 512, file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
        do {
            let v = try JSONValue.parse(bytes, maxDepth: maxDepth)
            XCTFail("expected an error, got \(v)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
        parseError(Array(text.utf8), file: file, line: line)
    }

    func testScalars() throws {
        XCTAssertEqual(try parse("null"), .null)
        XCTAssertEqual(try parse("true"), .bool(true))
        XCTAssertEqual(try parse(" \t\r\nfalse \n"), .bool(false))
        XCTAssertEqual(try parse("0"), .int(0))
        XCTAssertEqual(try parse("-0"), .int(0))
        XCTAssertEqual(try parse("-123"), .int(-123))
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int.max))
        XCTAssertEqual(try parse("-9223372036854775808"), .int(Int.min))
        XCTAssertEqual(try parse("1.5"), .double(1.5))
        XCTAssertEqual(try parse("1e3"), .double(1000))
        XCTAssertEqual(try parse("-1.25E+2"), .double(-125))
        XCTAssertEqual(try parse("1E-2"), .double(0.01))
        XCTAssertEqual(try parse("\"\""), .string(""))
    }

    func testNumbersBeyondIntBecomeDoubles() throws {
        XCTAssertEqual(try parse("9223372036854775808"), .double(9_223_372_036_854_775_808.0))
        XCTAssertEqual(try parse("-9223372036854775809"), .double(-9_223_372_036_854_775_809.0))
        XCTAssertEqual(try parse("123456789012345678901234567890"), .double(1.2345678901234568e29))
        let digits = "1" + String(repeating: "0", count: 300)
        XCTAssertEqual(try parse(digits), .double(1e300))
        XCTAssertEqual(try parse("1e-400"), .double(0))
        XCTAssertEqual(try parse("1.7976931348623157e308"), .double(.greatestFiniteMagnitude))
    }

    func testNumberGrammarIsStrict() {
        for bad in ["01", "-01", "1.", ".5", "-", "1e", "1e+", "-a", "1.e3", "00"] {
            guard let e = parseError(bad) else { continue }
            switch e {
            case .invalidNumber, .unexpectedEnd, .unexpectedByte, .trailingData: break
            default: XCTFail("\(bad): \(e)")
            }
        }
        XCTAssertEqual(parseError("01"), .invalidNumber(offset: 0))
        XCTAssertEqual(parseError("[1, -x]"), .invalidNumber(offset: 4))
        XCTAssertEqual(parseError("+1"), .unexpectedByte(UInt8(ascii: "+"), offset: 0))
    }

    func testNaNAndInfinityAreRefused() {
        XCTAssertEqual(parseError("NaN"), .unexpectedByte(UInt8(ascii: "N"), offset: 0))
        XCTAssertEqual(parseError("Infinity"), .unexpectedByte(UInt8(ascii: "I"), offset: 0))
        XCTAssertEqual(parseError("-Infinity"), .invalidNumber(offset: 0))
        XCTAssertEqual(parseError("[1e400]"), .numberOutOfRange(offset: 1))
        XCTAssertEqual(parseError("-1e309"), .numberOutOfRange(offset: 0))
    }

    func testStringsAndEscapes() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u0041\u00e9\u20AC""#), .string("Aé€"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try parse(#""\u0000""#), .string("\u{0}"))
        XCTAssertEqual(try parse("\"héllo wörld 😀 \u{2028}\""), .string("héllo wörld 😀 \u{2028}"))
    }

    func testLoneSurrogatesAreRefused() {
        XCTAssertEqual(parseError(#""\ud800""#), .loneSurrogate(offset: 1))
        XCTAssertEqual(parseError(#""ab\udc00""#), .loneSurrogate(offset: 3))
        XCTAssertEqual(parseError(#""\ud800\u0041""#), .loneSurrogate(offset: 1))
        XCTAssertEqual(parseError(#""\ud800x""#), .loneSurrogate(offset: 1))
        XCTAssertEqual(parseError(#""\ud800\ud800""#), .loneSurrogate(offset: 1))
    }

    func testBadEscapesAndControlCharacters() {
        XCTAssertEqual(parseError(#""\x""#), .invalidEscape(offset: 1))
        XCTAssertEqual(parseError(#""\u12G4""#), .invalidEscape(offset: 5))
        XCTAssertEqual(parseError(#""\u12"#), .unexpectedEnd(offset: 5))
        XCTAssertEqual(parseError("\"a\tb\""), .controlCharacter(0x09, offset: 2))
        XCTAssertEqual(parseError("\"a\nb\""), .controlCharacter(0x0A, offset: 2))
        XCTAssertEqual(parseError([0x22, 0x00, 0x22]), .controlCharacter(0, offset: 1))
        XCTAssertEqual(parseError("\"abc"), .unexpectedEnd(offset: 4))
    }

    func testInvalidUTF8IsRefused() {
        let q: UInt8 = 0x22
        XCTAssertEqual(parseError([q, 0xFF, q]), .invalidUTF8(offset: 1))
        XCTAssertEqual(parseError([q, 0x80, q]), .invalidUTF8(offset: 1), "lone continuation byte")
        XCTAssertEqual(parseError([q, 0xC0, 0x80, q]), .invalidUTF8(offset: 1), "overlong NUL")
        XCTAssertEqual(parseError([q, 0xE0, 0x80, 0xAF, q]), .invalidUTF8(offset: 1), "overlong 3-byte")
        XCTAssertEqual(parseError([q, 0xED, 0xA0, 0x80, q]), .invalidUTF8(offset: 1), "UTF-8 encoded surrogate")
        XCTAssertEqual(parseError([q, 0xF4, 0x90, 0x80, 0x80, q]), .invalidUTF8(offset: 1), "beyond U+10FFFF")
        XCTAssertEqual(parseError([q, 0xF5, 0x80, 0x80, 0x80, q]), .invalidUTF8(offset: 1))
        XCTAssertEqual(parseError([q, 0x61, 0xE2, 0x82, q]), .invalidUTF8(offset: 2), "truncated sequence")
        XCTAssertEqual(parseError([q, 0xE2, 0x82]), .unexpectedEnd(offset: 3))
        XCTAssertEqual(parseError([0xEF, 0xBB, 0xBF, 0x31]), .unexpectedByte(0xEF, offset: 0), "a BOM is not JSON")
        XCTAssertEqual(try JSONValue.parse([q, 0xE2, 0x82, 0xAC, q]), .string("€"))
        XCTAssertEqual(try JSONValue.parse([q, 0xF0, 0x9F, 0x98, 0x80, q]), .string("😀"))
    }

    func testStructure() throws {
        let v = try parse(#" { "b" : [1, 2.5, "x", null, true, {}], "a": {"c": []} } "#)
        XCTAssertEqual(v.objectValue?.keys, ["b", "a"], "insertion order kept")
        XCTAssertEqual(v["b"]?[1], .double(2.5))
        XCTAssertEqual(v["b"]?[5], .object(JSONObject()))
        XCTAssertEqual(v["a"]?["c"], .array([]))
        XCTAssertNil(v["b"]?[6])
        let dup = try parse(#"{"k": 1, "z": 0, "k": 2}"#)
        XCTAssertEqual(dup["k"], .int(2), "a repeated key keeps its last value")
        XCTAssertEqual(dup.objectValue?.keys, ["k", "z"])
    }

    func testStructuralErrors() {
        XCTAssertEqual(parseError(""), .empty)
        XCTAssertEqual(parseError("  \n"), .empty)
        XCTAssertEqual(parseError("[1,]"), .unexpectedByte(UInt8(ascii: "]"), offset: 3))
        XCTAssertEqual(parseError(#"{"a":1,}"#), .unexpectedByte(UInt8(ascii: "}"), offset: 7))
        XCTAssertEqual(parseError("[1 2]"), .unexpectedByte(UInt8(ascii: "2"), offset: 3))
        XCTAssertEqual(parseError(#"{"a" 1}"#), .unexpectedByte(UInt8(ascii: "1"), offset: 5))
        XCTAssertEqual(parseError(#"{1:2}"#), .unexpectedByte(UInt8(ascii: "1"), offset: 1))
        XCTAssertEqual(parseError("[1"), .unexpectedEnd(offset: 2))
        XCTAssertEqual(parseError("tru"), .unexpectedEnd(offset: 3))
        XCTAssertEqual(parseError("trux"), .unexpectedByte(UInt8(ascii: "x"), offset: 3))
        XCTAssertEqual(parseError("1 2"), .trailingData(offset: 2))
        XCTAssertEqual(parseError("[]]"), .trailingData(offset: 2))
        XCTAssertEqual(parseError(#"{"a":1} x"#), .trailingData(offset: 8))
        XCTAssertEqual(parseError("[\u{b}]"), .unexpectedByte(0x0B, offset: 1), "vertical tab is not JSON whitespace")
    }

    func testHundredThousandDeepNestingIsAnErrorNotACrash() {
        let open = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        XCTAssertEqual(parseError(open), .tooDeep(limit: 512, offset: 512))
        let balanced = open + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        XCTAssertEqual(parseError(balanced), .tooDeep(limit: 512, offset: 512))
        var objects: [UInt8] = []
        for _ in 0..<100_000 { objects += Array(#"{"a":"#.utf8) }
        XCTAssertEqual(parseError(objects), .tooDeep(limit: 512, offset: 512 * 5))
        // With the limit raised, the parser itself does not recurse (releasing or serializing a value does,
        // which is why the default limit stays small).
        let fiveThousand = String(repeating: "[", count: 5000) + "7" + String(repeating: "]", count: 5000)
        var v = try? JSONValue.parse(Array(fiveThousand.utf8), maxDepth: 5000)
        var depth = 0
        while case let .array(inner)? = v, inner.count == 1 { v = inner[0]; depth += 1 }
        XCTAssertEqual(depth, 5000)
        XCTAssertEqual(v, .int(7))
    }

    func testDepthLimitIsExact() throws {
        let deep = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        XCTAssertNoThrow(try parse(deep))
        let deeper = "[" + deep + "]"
        XCTAssertEqual(parseError(deeper), .tooDeep(limit: 512, offset: 512))
        XCTAssertEqual(parseError(Array("[[1]]".utf8), maxDepth: 1), .tooDeep(limit: 1, offset: 1))
        XCTAssertEqual(try parse("[[1]]", maxDepth: 2), [[1]])
    }

    func testLargeFlatArray() throws {
        let text = "[" + (0..<200_000).map(String.init).joined(separator: ",") + "]"
        let v = try parse(text)
        XCTAssertEqual(v.arrayValue?.count, 200_000)
        XCTAssertEqual(v[199_999], .int(199_999))
    }

    func testErrorsDescribeThemselves() {
        XCTAssertEqual(JSONParseError.unexpectedByte(UInt8(ascii: "x"), offset: 3).description, "unexpected 'x' at byte 3")
        XCTAssertEqual(JSONParseError.invalidUTF8(offset: 9).description, "invalid UTF-8 at byte 9")
        XCTAssertEqual(JSONParseError.controlCharacter(0x0A, offset: 2).offset, 2)
        XCTAssertTrue(JSONParseError.tooDeep(limit: 512, offset: 512).description.contains("512"))
    }

    func testAccessors() throws {
        XCTAssertEqual(JSONValue.double(5).intValue, 5)
        XCTAssertNil(JSONValue.double(5.5).intValue)
        XCTAssertNil(JSONValue.double(1e19).intValue)
        XCTAssertNil(JSONValue.double(9_223_372_036_854_775_808.0).intValue)
        XCTAssertEqual(JSONValue.double(-9_223_372_036_854_775_808.0).intValue, Int.min)
        XCTAssertNil(JSONValue.string("5").intValue)
        XCTAssertEqual(JSONValue.int(3).doubleValue, 3)
        XCTAssertEqual(JSONValue.string("s").stringValue, "s")
        XCTAssertEqual(JSONValue.bool(true).boolValue, true)
        XCTAssertNil(JSONValue.int(1).boolValue)
        XCTAssertEqual(JSONValue.array([1]).arrayValue, [1])
        XCTAssertEqual(try parse(#"{"a":1}"#).objectValue?["a"], 1)
        XCTAssertNil(JSONValue.int(1)["a"])
        let literal: JSONValue = ["z": 1, "a": [true, nil, 2.5, "s"]]
        XCTAssertEqual(literal.objectValue?.keys, ["z", "a"])
        XCTAssertEqual(literal["a"]?[1], .null)
    }

    func testObjectEqualityIgnoresOrderAndHashesAlike() throws {
        let a = try parse(#"{"x":1,"y":[2]}"#), b = try parse(#"{"y":[2],"x":1}"#)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a, try parse(#"{"x":1,"y":[3]}"#))
        XCTAssertNotEqual(a, try parse(#"{"x":1}"#))
        var big = JSONObject()
        for k in 0..<100 { big["k\(k)"] = .int(k) }
        big["k50"] = nil
        XCTAssertEqual(big.count, 99)
        XCTAssertNil(big["k50"])
        XCTAssertEqual(big["k99"], .int(99))
        var copy = big
        copy["k1"] = "changed"
        XCTAssertEqual(big["k1"], .int(1), "value semantics")
    }
}
