/// Base64 (RFC 4648, with padding) of little-endian float32 arrays, for `forward`'s `logits_base64`.
public enum Float32Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encoded length of `count` floats.
    public static func encodedCount(floats count: Int) -> Int { (count * 4 + 2) / 3 * 4 }

    /// Appends the base64 of `values` as little-endian float32 bytes, row-major as given.
    public static func append(_ values: some Collection<Float>, to out: inout [UInt8]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values {
            let bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        appendBase64(bytes, to: &out)
    }

    /// The base64 text of `values`.
    public static func encode(_ values: some Collection<Float>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(encodedCount(floats: values.count))
        append(values, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the base64 of raw bytes.
    public static func appendBase64(_ bytes: [UInt8], to out: inout [UInt8]) {
        let a = alphabet
        var k = 0
        let n = bytes.count
        while k + 3 <= n {
            let v = UInt32(bytes[k]) << 16 | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2])
            out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
            out.append(a[Int(v >> 6 & 63)]); out.append(a[Int(v & 63)])
            k += 3
        }
        if n - k == 1 {
            let v = UInt32(bytes[k]) << 16
            out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
            out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "="))
        } else if n - k == 2 {
            let v = UInt32(bytes[k]) << 16 | UInt32(bytes[k + 1]) << 8
            out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
            out.append(a[Int(v >> 6 & 63)]); out.append(UInt8(ascii: "="))
        }
    }

    /// Decodes base64 of little-endian float32s; nil when the text is not padded base64 of a multiple of 4 bytes.
    public static func decode(_ text: String) -> [Float]? {
        var table = [UInt8](repeating: 255, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chars.count / 4 * 3)
        var k = 0
        while k < chars.count {
            let pad = k + 4 == chars.count ? chars[k..<k + 4].reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count : 0
            guard pad <= 2 else { return nil }
            var v: UInt32 = 0
            for j in 0..<4 {
                let c = chars[k + j]
                if j >= 4 - pad { v <<= 6; continue }
                let d = table[Int(c)]
                guard d != 255 else { return nil }
                v = v << 6 | UInt32(d)
            }
            bytes.append(UInt8(v >> 16 & 255))
            if pad < 2 { bytes.append(UInt8(v >> 8 & 255)) }
            if pad < 1 { bytes.append(UInt8(v & 255)) }
            k += 4
        }
        guard bytes.count % 4 == 0 else { return nil }
        var out: [Float] = []
        out.reserveCapacity(bytes.count / 4)
        for j in stride(from: 0, to: bytes.count, by: 4) {
            let bits = UInt32(bytes[j]) | UInt32(bytes[j + 1]) << 8 | UInt32(bytes[j + 2]) << 16 | UInt32(bytes[j + 3]) << 24
            out.append(Float(bitPattern: bits))
        }
        return out
    }
}
