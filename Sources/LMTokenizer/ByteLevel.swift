/// GPT-2's reversible byte ↔ character mapping: every byte gets a printable character so that the
/// vocabulary can be stored as text. Printable Latin-1 bytes map to themselves; the other 68 bytes map
/// to U+0100 and upwards, in byte order.
enum ByteLevel {
    /// The character (as a Unicode scalar value) that stands for each byte.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse of `byteToScalar`, indexed by scalar value (every mapped scalar is below 324).
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The bytes GPT-2 keeps as themselves: `!`…`~`, `¡`…`¬`, `®`…`ÿ`.
    private static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The byte-level string form of raw bytes (what the vocabulary files contain).
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            // The table holds only valid scalar values, so the fallback is never taken.
            scalars.append(Unicode.Scalar(byteToScalar[Int(byte)]) ?? "?")
        }
        return String(scalars)
    }

    /// The raw bytes of a byte-level string, or nil if it contains a character outside the mapping
    /// (as added tokens may: those stand for their own UTF-8 text).
    static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < scalarToByte.count, scalarToByte[value] >= 0 else { return nil }
            bytes.append(UInt8(scalarToByte[value]))
        }
        return bytes
    }
}
