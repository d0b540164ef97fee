extension JSONValue {
    /// Parses strict RFC 8259 JSON (one value, optional surrounding whitespace).
    ///
    /// Rejects invalid UTF-8, `\u` escapes of lone surrogates, unescaped control characters, NaN/Infinity,
    /// numbers beyond a double's range, trailing data and nesting deeper than `maxDepth`. Nesting is
    /// handled without recursion, so hostile depth is an error, never a stack overflow. Integers that do
    /// not fit in `Int` become doubles; a repeated object key keeps its last value.
    public static func parse<C: Collection>(
        _ bytes: C, maxDepth: Int = 512
    ) throws(JSONParseError) -> JSONValue where C.Element == UInt8 {
        let direct: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try parser.parseDocument() }
        }
        if let direct { return try direct.get() }
        let copy = Array(bytes)
        let result = copy.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
            return Result { () throws(JSONParseError) in try parser.parseDocument() }
        }
        return try result.get()
    }

    /// Parses the UTF-8 text of `text`.
    public static func parse(_ text: String, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// The parser's state over one contiguous buffer. Containers under construction live on explicit stacks.
struct JSONParser {
    private let b: UnsafeBufferPointer<UInt8>
    private let n: Int
    private var i = 0
    private let maxDepth: Int

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.b = bytes
        self.n = bytes.count
        self.maxDepth = max(0, maxDepth)
    }

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        if i == n { throw .empty }
        var arrays: [[JSONValue]] = []
        var objects: [JSONObject] = []
        var keys: [String] = []
        var isObject: [Bool] = []  // one entry per open container, innermost last

        nextValue: while true {
            var value: JSONValue
            guard i < n else { throw .unexpectedEnd(offset: i) }
            switch b[i] {
            case UInt8(ascii: "{"):
                guard isObject.count < maxDepth else { throw .tooDeep(limit: maxDepth, offset: i) }
                i += 1
                skipWhitespace()
                if i < n && b[i] == UInt8(ascii: "}") {
                    i += 1
                    value = .object(JSONObject())
                } else {
                    keys.append(try parseKey())
                    objects.append(JSONObject())
                    isObject.append(true)
                    continue nextValue
                }
            case UInt8(ascii: "["):
                guard isObject.count < maxDepth else { throw .tooDeep(limit: maxDepth, offset: i) }
                i += 1
                skipWhitespace()
                if i < n && b[i] == UInt8(ascii: "]") {
                    i += 1
                    value = .array([])
                } else {
                    arrays.append([])
                    isObject.append(false)
                    continue nextValue
                }
            case Self.quote:
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = try parseNumber()
            default:
                throw unexpectedHere()
            }

            // A value is complete: hand it to the innermost open container, closing containers as they end.
            while true {
                guard let inObject = isObject.last else {
                    skipWhitespace()
                    if i != n { throw .trailingData(offset: i) }
                    return value
                }
                skipWhitespace()
                guard i < n else { throw .unexpectedEnd(offset: i) }
                if inObject {
                    objects[objects.count - 1][keys.removeLast()] = value
                    switch b[i] {
                    case UInt8(ascii: ","):
                        i += 1
                        skipWhitespace()
                        keys.append(try parseKey())
                        continue nextValue
                    case UInt8(ascii: "}"):
                        i += 1
                        isObject.removeLast()
                        value = .object(objects.removeLast())
                    default:
                        throw unexpectedHere()
                    }
                } else {
                    arrays[arrays.count - 1].append(value)
                    switch b[i] {
                    case UInt8(ascii: ","):
                        i += 1
                        skipWhitespace()
                        continue nextValue
                    case UInt8(ascii: "]"):
                        i += 1
                        isObject.removeLast()
                        value = .array(arrays.removeLast())
                    default:
                        throw unexpectedHere()
                    }
                }
            }
        }
    }

    private func unexpectedHere() -> JSONParseError {
        i < n ? .unexpectedByte(b[i], offset: i) : .unexpectedEnd(offset: i)
    }

    private mutating func skipWhitespace() {
        while i < n {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    /// A member name, the colon and the whitespace after it.
    private mutating func parseKey() throws(JSONParseError) -> String {
        guard i < n, b[i] == Self.quote else { throw unexpectedHere() }
        let key = try parseString()
        skipWhitespace()
        guard i < n, b[i] == UInt8(ascii: ":") else { throw unexpectedHere() }
        i += 1
        skipWhitespace()
        return key
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        let w = word.utf8Start
        for k in 0..<count {
            guard i + k < n else { throw .unexpectedEnd(offset: i + k) }
            guard b[i + k] == w[k] else { throw .unexpectedByte(b[i + k], offset: i + k) }
        }
        i += count
    }

    // MARK: strings

    /// A string starting at the opening quote; leaves `i` after the closing quote.
    private mutating func parseString() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: printable ASCII without escapes needs no copy and no validation.
        while i < n {
            let c = b[i]
            if c == Self.quote {
                let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == Self.backslash || c < 0x20 || c >= 0x80 { break }
            i += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: b[start..<i]))
        while true {
            guard i < n else { throw .unexpectedEnd(offset: i) }
            let c = b[i]
            switch c {
            case Self.quote:
                i += 1
                return String(decoding: out, as: UTF8.self)
            case Self.backslash:
                try parseEscape(into: &out)
            case 0..<0x20:
                throw .controlCharacter(c, offset: i)
            case 0x20..<0x80:
                out.append(c)
                i += 1
            default:
                let length = try utf8SequenceLength(at: i)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<(i + length)]))
                i += length
            }
        }
    }

    /// Checks the multi-byte UTF-8 sequence at `at` (Unicode table 3-7: no overlongs, surrogates or > U+10FFFF).
    private func utf8SequenceLength(at p: Int) throws(JSONParseError) -> Int {
        let lead = b[p]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // allowed range of the second byte
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw .invalidUTF8(offset: p)
        }
        guard p + length <= n else {
            // A truncated sequence at the very end is still a bad sequence, unless what is there is valid so far.
            throw p + 1 < n && !(low...high).contains(b[p + 1]) ? .invalidUTF8(offset: p) : .unexpectedEnd(offset: n)
        }
        guard (low...high).contains(b[p + 1]) else { throw .invalidUTF8(offset: p) }
        for k in 2..<length where !(0x80...0xBF).contains(b[p + k]) { throw .invalidUTF8(offset: p) }
        return length
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONParseError) {
        let escapeStart = i
        guard i + 1 < n else { throw .unexpectedEnd(offset: n) }
        let e = b[i + 1]
        i += 2
        switch e {
        case Self.quote: out.append(Self.quote)
        case Self.backslash: out.append(Self.backslash)
        case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try hex4())
            if (0xD800...0xDBFF).contains(scalar) {
                guard i + 1 < n, b[i] == Self.backslash, b[i + 1] == UInt8(ascii: "u") else {
                    throw .loneSurrogate(offset: escapeStart)
                }
                i += 2
                let lowHalf = UInt32(try hex4())
                guard (0xDC00...0xDFFF).contains(lowHalf) else { throw .loneSurrogate(offset: escapeStart) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (lowHalf - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw .loneSurrogate(offset: escapeStart)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw .invalidEscape(offset: escapeStart)
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt16 {
        guard i + 4 <= n else { throw .unexpectedEnd(offset: n) }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = b[i + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw .invalidEscape(offset: i + k)
            }
            v = v << 4 | UInt16(d)
        }
        i += 4
        return v
    }

    private func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0..<0x80:
            out.append(UInt8(s))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | s >> 6)); out.append(UInt8(0x80 | s & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | s >> 12)); out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        default:
            out.append(UInt8(0xF0 | s >> 18)); out.append(UInt8(0x80 | s >> 12 & 0x3F))
            out.append(UInt8(0x80 | s >> 6 & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        }
    }

    // MARK: numbers

    private func isDigit(_ p: Int) -> Bool { p < n && b[p] >= UInt8(ascii: "0") && b[p] <= UInt8(ascii: "9") }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = i
        let negative = b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard isDigit(i) else { throw i < n ? .invalidNumber(offset: start) : .unexpectedEnd(offset: i) }
        if b[i] == UInt8(ascii: "0") {
            i += 1
            if isDigit(i) { throw .invalidNumber(offset: start) }  // no leading zeros
        } else {
            while isDigit(i) { i += 1 }
        }
        let integerEnd = i
        var integral = true
        if i < n && b[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard isDigit(i) else { throw .invalidNumber(offset: start) }
            while isDigit(i) { i += 1 }
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            integral = false
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard isDigit(i) else { throw .invalidNumber(offset: start) }
            while isDigit(i) { i += 1 }
        }
        if integral, let v = exactInt(from: negative ? start + 1 : start, to: integerEnd, negative: negative) {
            return .int(v)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard let d = Double(text) else { throw .invalidNumber(offset: start) }
        guard d.isFinite else { throw .numberOutOfRange(offset: start) }
        return .double(d)
    }

    /// The digits in `from..<to` as an Int, or nil when they overflow (accumulated negatively to reach Int.min).
    private func exactInt(from: Int, to: Int, negative: Bool) -> Int? {
        var v = 0
        for p in from..<to {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int(b[p] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = s
        }
        if negative { return v }
        return v == Int.min ? nil : -v
    }
}
