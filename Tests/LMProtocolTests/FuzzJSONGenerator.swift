import TestSupport
import LMProtocol

/// Random JSON values, JSON-RPC requests, their text written in random but valid styles, and mutations
/// of that text, for the fuzz tests.
enum FuzzJSONGenerator {
    /// Pieces of string content: escapes the writer must produce, every UTF-8 length, line separators.
    static let stringPieces: [String] = [
        "a", "Hello", " world", "\"", "\\", "/", "\n", "\r\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "ß", "\u{301}",
        "日本語", "😀", "👩\u{200D}👩\u{200D}👧", "🇫🇷", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFD}", "\u{FFFF}",
        "\u{10FFFF}", "<|endoftext|>", "{\"a\":[1,2]}", "\\u0041", "'", "null", "1e400",
    ]

    static let methods = ["info", "tokenize", "detokenize", "forward", "topk", "complete", "suggest", "$/cancelRequest",
                          "shutdown", "nope", "", "Info", "complete/delta"]
    static let paramNames = ["text", "ids", "k", "max_tokens", "temperature", "top_k", "top_p", "seed", "stop", "stream",
                             "logprobs", "add_prefix_space", "positions", "encoding", "n", "stop_at", "heal", "id", "x"]

    /// A string of random pieces and random scalars.
    static func string(_ rng: inout FuzzRandom) -> String {
        var s = ""
        for _ in 0..<rng.int(0...6) {
            if rng.chance(0.75) {
                s += rng.pick(stringPieces)
            } else if let scalar = Unicode.Scalar(UInt32(rng.int(0...0x10FFFF))) {
                s.unicodeScalars.append(scalar)
            }
        }
        return s
    }

    /// An integer, often an edge.
    static func int(_ rng: inout FuzzRandom) -> Int {
        switch rng.int(0...5) {
        case 0: return rng.pick([0, 1, -1, Int.max, Int.min, Int.max - 1, Int.min + 1, 50256, 50257, 128])
        case 1: return Int(truncatingIfNeeded: rng.next())
        default: return rng.int(-1000...100_000)
        }
    }

    /// A finite double, often an edge or a float32 (as logits are).
    static func double(_ rng: inout FuzzRandom) -> Double {
        switch rng.int(0...5) {
        case 0: return rng.pick([0.5, -0.0, 0.0, 1e300, -1e-300, 5e-324, Double.greatestFiniteMagnitude,
                                 -Double.greatestFiniteMagnitude, 9_007_199_254_740_993, 9.223372036854775807e18, 1.0, 1e16])
        case 1: return Double(Float.random(in: -100...100, using: &rng))
        case 2:
            let d = Double(bitPattern: rng.next())
            return d.isFinite ? d : 1.5
        default: return Double.random(in: -1000...1000, using: &rng)
        }
    }

    /// A random value, `depth` levels deep at most.
    static func value(_ rng: inout FuzzRandom, depth: Int) -> JSONValue {
        let kind = rng.int(0...(depth > 0 ? 7 : 5))
        switch kind {
        case 0: return .null
        case 1: return .bool(rng.chance(0.5))
        case 2: return .int(int(&rng))
        case 3: return .double(double(&rng))
        case 4, 5: return .string(string(&rng))
        case 6: return .array((0..<rng.int(0...5)).map { _ in value(&rng, depth: depth - 1) })
        default:
            var o = JSONObject()
            for _ in 0..<rng.int(0...5) {
                o[rng.chance(0.5) ? rng.pick(paramNames) : string(&rng)] = value(&rng, depth: depth - 1)
            }
            return .object(o)
        }
    }

    /// A JSON-RPC request or notification, sometimes a batch of them, mostly well-formed.
    static func message(_ rng: inout FuzzRandom) -> JSONValue {
        if rng.chance(0.1) { return .array((0..<rng.int(0...4)).map { _ in request(&rng) }) }
        return request(&rng)
    }

    private static func request(_ rng: inout FuzzRandom) -> JSONValue {
        var o = JSONObject()
        if rng.chance(0.97) { o["jsonrpc"] = rng.chance(0.97) ? "2.0" : value(&rng, depth: 1) }
        if rng.chance(0.9) {
            o["id"] = rng.chance(0.9) ? (rng.chance(0.7) ? .int(rng.int(0...100)) : .string(string(&rng))) : value(&rng, depth: 1)
        }
        if rng.chance(0.97) { o["method"] = rng.chance(0.95) ? .string(rng.pick(methods)) : value(&rng, depth: 1) }
        if rng.chance(0.8) {
            var params = JSONObject()
            for _ in 0..<rng.int(0...5) {
                let name = rng.pick(paramNames)
                switch name {
                case "text": params[name] = .string(string(&rng))
                case "ids": params[name] = .array((0..<rng.int(0...6)).map { _ in .int(rng.int(-2...50_300)) })
                case "stop": params[name] = .array((0..<rng.int(0...3)).map { _ in .string(string(&rng)) })
                default: params[name] = value(&rng, depth: 2)
                }
            }
            o["params"] = rng.chance(0.95) ? .object(params) : value(&rng, depth: 2)
        }
        return .object(o)
    }

    // MARK: writing

    /// The JSON text of `value` in a random valid style: whitespace of every kind between tokens,
    /// characters escaped or not, `\u` escapes in either case and as surrogate pairs, exponents.
    static func write(_ value: JSONValue, _ rng: inout FuzzRandom, spacing: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        write(value, &rng, spacing: spacing, into: &out)
        return out
    }

    private static func space(_ rng: inout FuzzRandom, _ spacing: Bool, _ out: inout [UInt8]) {
        guard spacing, rng.chance(0.15) else { return }
        for _ in 0..<rng.int(1...3) { out.append(rng.pick([0x20, 0x09, 0x0A, 0x0D])) }
    }

    private static func write(_ value: JSONValue, _ rng: inout FuzzRandom, spacing: Bool, into out: inout [UInt8]) {
        space(&rng, spacing, &out)
        switch value {
        case .null: out += Array("null".utf8)
        case let .bool(b): out += Array((b ? "true" : "false").utf8)
        case let .int(i): out += Array(String(i).utf8)
        case let .double(d):
            // The shortest text that reads back as d (finite d only), its exponent sometimes restyled.
            var text = Array(d.description.utf8)
            if let e = text.firstIndex(of: UInt8(ascii: "e")), rng.chance(0.3) {
                text[e] = rng.chance(0.5) ? UInt8(ascii: "E") : UInt8(ascii: "e")
                if e + 1 < text.count, (0x30...0x39).contains(text[e + 1]), rng.chance(0.5) { text.insert(UInt8(ascii: "+"), at: e + 1) }
            }
            out += text
        case let .string(s): writeString(s, &rng, into: &out)
        case let .array(elements):
            out.append(UInt8(ascii: "["))
            for (k, e) in elements.enumerated() {
                if k > 0 { space(&rng, spacing, &out); out.append(UInt8(ascii: ",")) }
                write(e, &rng, spacing: spacing, into: &out)
            }
            space(&rng, spacing, &out)
            out.append(UInt8(ascii: "]"))
        case let .object(o):
            out.append(UInt8(ascii: "{"))
            for (k, member) in o.enumerated() {
                if k > 0 { space(&rng, spacing, &out); out.append(UInt8(ascii: ",")) }
                space(&rng, spacing, &out)
                writeString(member.key, &rng, into: &out)
                space(&rng, spacing, &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, &rng, spacing: spacing, into: &out)
            }
            space(&rng, spacing, &out)
            out.append(UInt8(ascii: "}"))
        }
        space(&rng, spacing, &out)
    }

    private static func hex4(_ v: UInt32, upper: Bool) -> [UInt8] {
        var h = String(v, radix: 16, uppercase: upper)
        while h.count < 4 { h = "0" + h }
        return Array(("\\u" + h).utf8)
    }

    private static func writeString(_ s: String, _ rng: inout FuzzRandom, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in s.unicodeScalars {
            let v = scalar.value
            let short: [UInt32: String] = [0x22: "\\\"", 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0C: "\\f"]
            let mustEscape = v < 0x20 || v == 0x22 || v == 0x5C
            if let e = short[v], rng.chance(0.8) {
                out += Array(e.utf8)
            } else if mustEscape || rng.chance(0.05) {
                let upper = rng.chance(0.5)
                if v >= 0x10000 {
                    let u = v - 0x10000
                    out += hex4(0xD800 + (u >> 10), upper: upper) + hex4(0xDC00 + (u & 0x3FF), upper: upper)
                } else {
                    out += hex4(v, upper: upper)
                }
            } else if v == 0x2F && rng.chance(0.3) {
                out += Array("\\/".utf8)
            } else {
                out += Array(String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: mutating

    /// Text that breaks JSON, or nearly does, in the ways hostile or broken clients do.
    static let insertions: [[UInt8]] = [
        "\"", "\\", "{", "}", "[", "]", ",", ":", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\uD83D", "\\u00e9",
        "\\x", "\\'", "1e999", "-1e400", "1e-400", "-", "0", "00", "-0", "01", "1.", ".5", "1e", "1e+", "+1", "0x10",
        "NaN", "Infinity", "-Infinity", "99999999999999999999999", "9223372036854775808", "-9223372036854775809",
        "true", "tru", "nul", "null", "fals", " ", "\t", "\r", "\n", "\u{A0}", "\u{FEFF}", "\u{2028}", "//", "/*", "'",
        "\"jsonrpc\":\"2.0\",", "\"id\":", "\"id\":null,", "\"method\":\"info\"", "\"params\":", "[]", "{}",
    ].map { Array($0.utf8) } + [
        [0x00], [0x1F], [0x7F], [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xC2], [0xE2, 0x82], [0xED, 0xA0, 0x80],
        [0xED, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF], [0xE0, 0x80, 0x80], [0xF0, 0x90, 0x80],
    ]

    /// `bytes` after 1 to 4 random mutations.
    static func mutate(_ bytes: [UInt8], _ rng: inout FuzzRandom) -> [UInt8] {
        var b = bytes
        for _ in 0..<rng.int(1...4) {
            let at = rng.int(0...b.count)
            switch rng.int(0...10) {
            case 0 where !b.isEmpty:  // flip one bit
                let p = rng.int(0...(b.count - 1))
                b[p] ^= 1 << UInt8(rng.int(0...7))
            case 1 where !b.isEmpty:  // any byte
                b[rng.int(0...(b.count - 1))] = rng.byte()
            case 2:  // delete a few bytes
                let end = min(b.count, at + rng.int(1...8))
                b.removeSubrange(at..<end)
            case 3:  // truncate
                b.removeSubrange(at...)
            case 4, 5, 6:  // insert a troublemaker
                b.insert(contentsOf: rng.pick(insertions), at: at)
            case 7:  // duplicate a range
                let end = min(b.count, at + rng.int(1...16))
                b.insert(contentsOf: Array(b[at..<end]), at: at)
            case 8:  // deep nesting, around the limit of 512
                let n = rng.chance(0.5) ? rng.int(505...520) : rng.int(1...1_200)
                let open: [UInt8] = rng.chance(0.5) ? Array("[".utf8) : Array("{\"a\":".utf8)
                var nest = Array([[UInt8]](repeating: open, count: n).joined())
                if rng.chance(0.5) {
                    nest += Array("0".utf8)
                    let close: UInt8 = open == Array("[".utf8) ? UInt8(ascii: "]") : UInt8(ascii: "}")
                    nest += [UInt8](repeating: close, count: n)
                }
                b.insert(contentsOf: nest, at: at)
            case 9:  // a huge number
                let digits = [UInt8](repeating: UInt8(ascii: "9"), count: rng.int(1...400))
                b.insert(contentsOf: digits + (rng.chance(0.5) ? Array("e\(rng.int(-400...400))".utf8) : []), at: at)
            default:  // random bytes
                b.insert(contentsOf: (0..<rng.int(1...6)).map { _ in rng.byte() }, at: at)
            }
        }
        return b
    }
}
