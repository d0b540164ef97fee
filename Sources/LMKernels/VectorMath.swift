/// Eight-lane building blocks of the fast kernels: unaligned loads and stores, a fixed-order
/// horizontal sum, and vectorised exp / sigmoid / erfc accurate to a few float ulps.
///
/// Eight lanes is one AVX2 register; nothing here relies on wider vectors.
enum VectorMath {
    /// Eight floats at `p`, which need not be aligned.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Stores eight floats at `p`, which need not be aligned.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Up to eight floats at `p` (`count` of them), the other lanes set to `fill`.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, count: Int, fill: Float = 0) -> SIMD8<Float> {
        var v = SIMD8<Float>(repeating: fill)
        for i in 0..<min(count, 8) { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` lanes of `v` at `p`.
    @inline(__always)
    static func storePartial(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<min(count, 8) { p[i] = v[i] }
    }

    /// The sum of the lanes, always added in the same order (halves, then quarters, then pairs), so
    /// that every kernel reducing the same lanes gets the same bits.
    @inline(__always)
    static func sum(_ v: SIMD8<Float>) -> Float {
        let four = v.lowHalf + v.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// [sum(a), sum(b), sum(c), sum(d)]: four `sum`s at once, each added in exactly `sum`'s order
    /// (so the bits are the same), with whole-register shuffles instead of one reduction per vector.
    @inline(__always)
    static func sum4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD4<Float> {
        // Halves: lanes i and i+4 of each vector.
        let ab = SIMD8(lowHalf: a.lowHalf, highHalf: b.lowHalf) + SIMD8(lowHalf: a.highHalf, highHalf: b.highHalf)
        let cd = SIMD8(lowHalf: c.lowHalf, highHalf: d.lowHalf) + SIMD8(lowHalf: c.highHalf, highHalf: d.highHalf)
        // Quarters: lanes 0+2 and 1+3 of each half-sum.
        let even = SIMD8(ab[0], ab[1], ab[4], ab[5], cd[0], cd[1], cd[4], cd[5])
        let odd = SIMD8(ab[2], ab[3], ab[6], ab[7], cd[2], cd[3], cd[6], cd[7])
        let pairs = even + odd
        // Pairs: lane 0 + lane 1 of each.
        return SIMD4(pairs[0], pairs[2], pairs[4], pairs[6]) + SIMD4(pairs[1], pairs[3], pairs[5], pairs[7])
    }

    /// The largest lane (NaN lanes are ignored unless all are NaN).
    @inline(__always)
    static func max(_ v: SIMD8<Float>) -> Float {
        let four = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let two = four.lowHalf.replacing(with: four.highHalf, where: four.highHalf .> four.lowHalf)
        return two[1] > two[0] ? two[1] : two[0]
    }

    /// Lanes of `v` clamped to lo … hi; NaN lanes stay NaN. (The standard library's pointwiseMin/Max
    /// are not inlined and work lane by lane.)
    @inline(__always)
    static func clamp(_ v: SIMD8<Float>, _ lo: Float, _ hi: Float) -> SIMD8<Float> {
        let low = SIMD8<Float>(repeating: lo), high = SIMD8<Float>(repeating: hi)
        return v.replacing(with: low, where: v .< low).replacing(with: high, where: v .> high)
    }

    /// e^x per lane, within about 2 ulp (relative 2.5e-7) over the whole float range.
    ///
    /// x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so n·ln2 is exact), e^r by its Taylor series
    /// to r⁷ (truncation below 6e-9), and 2ⁿ applied as two halves so that results that overflow
    /// become +inf and tiny ones underflow gradually, as the libm function does. NaN stays NaN.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let log2e: Float = 1.442_695_040_888_963_4
        let ln2Hi: Float = 0.693_359_375  // few significant bits: n·ln2Hi is exact for |n| < 2¹⁵
        let ln2Lo: Float = -2.121_944_400_546_905_8e-4
        // Beyond these every answer is 0 or +inf anyway; clamping keeps n in the exponent's range.
        let xc = clamp(x, -104, 89)
        // Adding 1.5·2²³ rounds x·log2(e) to an integer and leaves that integer in the low bits.
        let shifter: Float = 12_582_912
        let t = (xc * log2e) + shifter
        let n = t - shifter
        var r = xc.addingProduct(n, SIMD8(repeating: -ln2Hi))
        r = r.addingProduct(n, SIMD8(repeating: -ln2Lo))
        typealias V = SIMD8<Float>
        var p = V(repeating: 1.0 / 5040)
        p = V(repeating: 1.0 / 720).addingProduct(p, r)
        p = V(repeating: 1.0 / 120).addingProduct(p, r)
        p = V(repeating: 1.0 / 24).addingProduct(p, r)
        p = V(repeating: 1.0 / 6).addingProduct(p, r)
        p = V(repeating: 0.5).addingProduct(p, r)
        p = V(repeating: 1).addingProduct(p, r)
        p = V(repeating: 1).addingProduct(p, r)
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- Int32(bitPattern: shifter.bitPattern)
        let half = ni &>> 1
        let scale1 = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let scale2 = unsafeBitCast((ni &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let result = p * scale1 * scale2
        return result.replacing(with: x, where: x .!= x)
    }

    /// 1 / (1 + e^−x) per lane; accurate in relative terms on both tails.
    @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    /// Q(a) = P(N(0,1) > a) = erfc(a/√2)/2 for a ≥ 0 per lane (lanes with a < 0 are treated as 0),
    /// relative error about 3e-7 (NaN stays NaN).
    ///
    /// The Chebyshev-fitted form erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), fractional error below
    /// 1.2e-7 for z ≥ 0 (W. H. Press et al., Numerical Recipes, §6.2). z² = a²/2 is kept exactly as a
    /// float plus a fused-multiply-add remainder, so the large exponent loses no precision.
    @inline(__always)
    static func upperNormalTail(_ a: SIMD8<Float>) -> SIMD8<Float> {
        // Q(14.9) is below the smallest float; clamping keeps a² finite.
        let ac = clamp(a, 0, 15)
        let t = 1 / (1 + ac * 0.353_553_390_593_273_8)  // 1 + z/2 with z = a/√2
        var p = SIMD8<Float>(repeating: 0.170_872_77)
        p = p * t - 0.822_152_23
        p = p * t + 1.488_515_87
        p = p * t - 1.135_203_98
        p = p * t + 0.278_868_07
        p = p * t - 0.186_288_06
        p = p * t + 0.096_784_18
        p = p * t + 0.374_091_96
        p = p * t + 1.000_023_68
        p = p * t - 1.265_512_23
        let square = ac * ac
        let remainder = (-square).addingProduct(ac, ac)  // a·a − square, exactly (fused)
        let result = 0.5 * t * exp(-0.5 * square) * exp(p - 0.5 * remainder)
        return result.replacing(with: a, where: a .!= a)
    }
}
