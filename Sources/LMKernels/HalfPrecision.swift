/// Conversions between float32 and the two 16-bit float formats weights may be kept in.
///
/// Widening is exact for both. With `-target-cpu native` on x86-64, `SIMD8<Float16>` ↔ `SIMD8<Float>`
/// compiles to the F16C instructions (vcvtph2ps / vcvtps2ph), one instruction per eight values;
/// bfloat16 is the top half of a float32, so widening it is a shift or a mask.
enum HalfPrecision {
    /// Eight float16 values (bit patterns) at `p`, widened; `p` need not be aligned.
    @inline(__always)
    static func loadHalf8(_ p: UnsafePointer<UInt16>) -> SIMD8<Float> {
        // Lane by lane, as `loadBFloat8(pair:high:)` explains; LLVM makes it one vcvtph2ps.
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self)
        @inline(__always) func f(_ i: Int) -> Float { Float(h[i]) }
        return SIMD8(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7))
    }

    /// Eight bfloat16 values widened from the 32 bytes at `p`, read as eight 32-bit lanes: their low
    /// halves, or (`high`) their high halves. One load (shared by both halves when both are read) and
    /// one shift or mask, instead of a zero-extending load and a shift.
    @inline(__always)
    static func loadBFloat8(pair p: UnsafePointer<UInt16>, high: Bool) -> SIMD8<Float> {
        // Lane by lane on purpose: the standard library's generic SIMD operations are not always
        // inlined into large kernels (they then cost a call per vector); LLVM vectorises these lanes.
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt32>.self)
        @inline(__always) func f(_ i: Int) -> Float { Float(bitPattern: high ? v[i] & 0xFFFF_0000 : v[i] << 16) }
        return SIMD8(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7))
    }

    /// The float32 equal to a float16 bit pattern.
    @inline(__always)
    static func float(half bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// The float32 equal to a bfloat16 bit pattern.
    @inline(__always)
    static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// The nearest float16 to `x` (ties to even; beyond ±65504 it becomes ±infinity; NaN stays NaN).
    @inline(__always)
    static func halfBits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// The nearest bfloat16 to `x` (ties to even; NaN stays a quiet NaN).
    @inline(__always)
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped half to nearest, ties to even.
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// dst[count] = float16(src[count]), rounded to nearest even.
    static func convertToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = SIMD8<Float16>(VectorMath.load(src + i))
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < count {
            dst[i] = halfBits(src[i])
            i += 1
        }
    }

    /// Eight int8 values at `p` as floats, lane by lane for the same reason as `loadBFloat8(pair:high:)`
    /// (one sign-extending load and a conversion once vectorised).
    @inline(__always)
    static func loadInt8(_ p: UnsafePointer<Int8>) -> SIMD8<Float> {
        let q = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int8>.self)
        @inline(__always) func f(_ i: Int) -> Float { Float(q[i]) }
        return SIMD8(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7))
    }

    /// dst[count] = bfloat16(src[count]), rounded to nearest even.
    static func convertToBFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { dst[i] = bfloat16Bits(src[i]) }
    }
}
