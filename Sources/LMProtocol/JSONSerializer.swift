extension JSONValue {
    /// Compact one-line JSON text (UTF-8, no trailing newline).
    ///
    /// Control characters, U+2028 and U+2029 are escaped so the text is always one line and safe to embed
    /// in JavaScript. Doubles print as the shortest text that reads back the same; a double that is exactly
    /// a float32 (logits are float32) prints as the shortest text that reads back as that float32. Non-finite
    /// doubles, which JSON cannot express, print as `null`.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        serialize(into: &out)
        return out
    }

    /// Appends the compact JSON text of this value to `out`.
    public func serialize(into out: inout [UInt8]) {
        switch self {
        case .null: JSONWriter.appendASCII("null", to: &out)
        case let .bool(b): JSONWriter.appendASCII(b ? "true" : "false", to: &out)
        case let .int(i): JSONWriter.appendInt(i, to: &out)
        case let .double(d): JSONWriter.appendDouble(d, to: &out)
        case let .string(s): JSONWriter.appendString(s, to: &out)
        case let .array(elements):
            out.append(UInt8(ascii: "["))
            var first = true
            for e in elements {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                e.serialize(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(object):
            out.append(UInt8(ascii: "{"))
            let keys = object.keys, values = object.values
            for k in keys.indices {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(keys[k], to: &out)
                out.append(UInt8(ascii: ":"))
                values[k].serialize(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

/// The pieces of JSON text output, shared with the fast paths that write large results directly.
public enum JSONWriter {
    /// Appends ASCII text.
    @inlinable
    public static func appendASCII(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends a decimal integer.
    public static func appendInt(_ value: Int, to out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits and a sign
        let count = withUnsafeMutableBytes(of: &digits) { raw -> Int in
            var magnitude = value.magnitude
            var p = raw.count
            repeat {
                p -= 1
                raw[p] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { p -= 1; raw[p] = UInt8(ascii: "-") }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[p...]))
            return raw.count - p
        }
        _ = count
    }

    /// Appends a double: float32 shortest form when it is exactly a float32, `null` when not finite.
    @inline(__always)
    public static func appendDouble(_ d: Double, to out: inout [UInt8]) {
        guard d.isFinite else { appendASCII("null", to: &out); return }
        let f = Float(d)
        if Double(f) == d {
            appendFloat(f, to: &out)
        } else {
            out.append(contentsOf: d.description.utf8)
        }
    }

    /// Appends a float32 as the shortest text that reads back as it (`null` when not finite).
    @inline(__always)
    public static func appendFloat(_ f: Float, to out: inout [UInt8]) {
        guard f.isFinite else { appendASCII("null", to: &out); return }
        out.append(contentsOf: f.description.utf8)
    }

    /// Appends a string literal with JSON escapes.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var copy = s
        copy.withUTF8 { bytes in
            var runStart = 0
            var k = 0
            let n = bytes.count
            while k < n {
                let c = bytes[k]
                var escape: StaticString? = nil
                var width = 1
                switch c {
                case UInt8(ascii: "\""): escape = "\\\""
                case UInt8(ascii: "\\"): escape = "\\\\"
                case 0x0A: escape = "\\n"
                case 0x0D: escape = "\\r"
                case 0x09: escape = "\\t"
                case 0x08: escape = "\\b"
                case 0x0C: escape = "\\f"
                case 0..<0x20: break
                case 0xE2 where k + 2 < n && bytes[k + 1] == 0x80 && (bytes[k + 2] == 0xA8 || bytes[k + 2] == 0xA9):
                    escape = bytes[k + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                    width = 3
                default:
                    k += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<k]))
                if let escape {
                    appendASCII(escape, to: &out)
                } else {
                    appendASCII("\\u00", to: &out)
                    let hex: StaticString = "0123456789abcdef"
                    out.append(hex.utf8Start[Int(c >> 4)])
                    out.append(hex.utf8Start[Int(c & 0xF)])
                }
                k += width
                runStart = k
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
