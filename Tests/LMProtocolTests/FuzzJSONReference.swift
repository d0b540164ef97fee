import TestSupport
import LMProtocol

/// A second JSON reader, the oracle for the fuzz tests: written plainly from RFC 8259 and the rules
/// protocol/README.md adds (lone-surrogate escapes refused, numbers beyond a double refused, integers
/// that overflow `Int` read as doubles, the last of repeated keys wins, nesting limited). Recursive and
/// slow, so it shares no structure with `JSONParser` and can disagree with it.
struct FuzzJSONReference {
    private let b: [UInt8]
    private var i = 0
    private let maxDepth: Int

    /// The value of `bytes`, or nil when the text is not acceptable JSON.
    static func parse(_ bytes: [UInt8], maxDepth: Int = 512) -> JSONValue? {
        var reader = FuzzJSONReference(b: bytes, maxDepth: max(0, maxDepth))
        reader.whitespace()
        guard let value = reader.value(depth: 0) else { return nil }
        reader.whitespace()
        guard reader.i == bytes.count else { return nil }  // (a ternary would turn nil into .null)
        return value
    }

    private init(b: [UInt8], maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    private var current: UInt8? { i < b.count ? b[i] : nil }

    private mutating func whitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func eat(_ c: Character) -> Bool {
        guard current == c.asciiValue else { return false }
        i += 1
        return true
    }

    /// A value; `depth` containers are open around it.
    private mutating func value(depth: Int) -> JSONValue? {
        guard let c = current else { return nil }
        switch c {
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return nil }
            i += 1
            whitespace()
            var elements: [JSONValue] = []
            if eat("]") { return .array(elements) }
            while true {
                whitespace()
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
                whitespace()
                if eat("]") { return .array(elements) }
                guard eat(",") else { return nil }
            }
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { return nil }
            i += 1
            whitespace()
            var object = JSONObject()
            if eat("}") { return .object(object) }
            while true {
                whitespace()
                guard current == UInt8(ascii: "\""), let key = string() else { return nil }
                whitespace()
                guard eat(":") else { return nil }
                whitespace()
                guard let member = value(depth: depth + 1) else { return nil }
                object[key] = member
                whitespace()
                if eat("}") { return .object(object) }
                guard eat(",") else { return nil }
            }
        case UInt8(ascii: "\""):
            return string().map { .string($0) }
        case UInt8(ascii: "t"):
            guard literal("true") else { return nil }
            return .bool(true)
        case UInt8(ascii: "f"):
            guard literal("false") else { return nil }
            return .bool(false)
        case UInt8(ascii: "n"):
            guard literal("null") else { return nil }
            return .null
        default:
            return number()
        }
    }

    private mutating func literal(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    private func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    private mutating func digits() -> Bool {
        guard isDigit(current) else { return false }
        while isDigit(current) { i += 1 }
        return true
    }

    private mutating func number() -> JSONValue? {
        let start = i
        _ = eat("-")
        if eat("0") {
            if isDigit(current) { return nil }
        } else if !digits() {
            return nil
        }
        var integral = true
        if eat(".") {
            integral = false
            guard digits() else { return nil }
        }
        if eat("e") || eat("E") {
            integral = false
            if !eat("+") { _ = eat("-") }
            guard digits() else { return nil }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if integral, let v = Int(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else { return nil }
        return .double(d)
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<(i + 4)], as: UTF8.self), radix: 16),
              b[i..<(i + 4)].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") })
        else { return nil }
        i += 4
        return v
    }

    /// A string from its opening quote; nil when malformed, including invalid UTF-8 anywhere in it.
    private mutating func string() -> String? {
        guard eat("\"") else { return nil }
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []  // unescaped bytes since the last escape, validated as one run
        func flush() -> Bool {
            guard let run = String(validating: raw, as: UTF8.self) else { return false }
            scalars.append(contentsOf: run.unicodeScalars)
            raw = []
            return true
        }
        while let c = current {
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return flush() ? String(scalars) : nil
            case UInt8(ascii: "\\"):
                guard flush(), let e = current else { return nil }
                i += 1
                let simple: [UInt8: Unicode.Scalar] = [
                    UInt8(ascii: "\""): "\"", UInt8(ascii: "\\"): "\\", UInt8(ascii: "/"): "/", UInt8(ascii: "b"): "\u{8}",
                    UInt8(ascii: "f"): "\u{C}", UInt8(ascii: "n"): "\n", UInt8(ascii: "r"): "\r", UInt8(ascii: "t"): "\t",
                ]
                if let s = simple[e] {
                    scalars.append(s)
                    continue
                }
                guard e == UInt8(ascii: "u"), let high = hex4() else { return nil }
                var code = high
                if (0xD800...0xDBFF).contains(high) {
                    guard eat("\\"), eat("u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                    code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }  // a lone low surrogate
                scalars.append(scalar)
            case 0..<0x20:
                return nil
            default:
                raw.append(c)
            }
        }
        return nil
    }
}
