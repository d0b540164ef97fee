/// Bit-exact conversions between float32 and the 16-bit float formats checkpoints are stored in.
///
/// Written out on the bits rather than through `Float16`, which Swift does not offer on every
/// platform; tests check them against `Float16` where it exists.
public enum FloatConversion {
    /// The float32 equal to an IEEE binary16 value (every binary16 is exactly representable).
    @inlinable
    public static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            // Infinity or NaN: keep the payload (shifted into the top of the wider mantissa).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent != 0 {
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal half: mantissa × 2⁻²⁴, exact in float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }

    /// The float32 equal to a bfloat16 value: its bits are the top 16 of a float32.
    @inlinable
    public static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// The nearest binary16 to `x` (ties to even; overflow to infinity; NaN stays NaN).
    public static func halfBits(from x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x007F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa != 0 ? UInt16(0x0200 | (mantissa >> 13)) : 0)
        }
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7C00 }
        if unbiased >= -14 {
            // Normal half: round the 23-bit mantissa to 10 bits; a carry may bump the exponent (even to ∞).
            var value = UInt32(unbiased + 15) << 10 | (mantissa >> 13)
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && (value & 1) == 1) { value += 1 }
            return sign | UInt16(value)
        }
        if unbiased < -25 { return sign }
        // Subnormal half: value = m × 2⁻²⁴ with the implicit bit made explicit, rounded to even.
        let full = mantissa | 0x0080_0000
        let shift = UInt32(-unbiased - 1)  // 14 ... 24 → so that 2^unbiased maps to units of 2⁻²⁴
        var value = full >> shift
        let rest = full & ((1 << shift) - 1)
        let half = UInt32(1) << (shift - 1)
        if rest > half || (rest == half && (value & 1) == 1) { value += 1 }
        return sign | UInt16(value)
    }

    /// The nearest bfloat16 to `x` (ties to even; NaN stays NaN).
    public static func bfloat16Bits(from x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
