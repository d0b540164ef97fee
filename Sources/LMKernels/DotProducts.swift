/// Many dot products of contiguous rows: out[i, j] = a[i, :] · b[j, :] (+ bias[j]), as in
/// x·wᵀ for the tied LM head and q·kᵀ in attention. Single-threaded over a range of b rows.
///
/// Every product is computed the same way whichever tile it falls in: eight lane sums over
/// p = 0, 8, 16, … (fused multiply-adds, in order), added up in `VectorMath.sum`'s order (`sum4`
/// does four at once), then the last K mod 8 terms one by one, then the bias. So results do not depend on M, on the tile, or on the thread split.
enum DotProducts {
    /// Rows of b per cache block (64 rows of 768 floats: 192 KB, stays in L2 while all rows of a pass).
    static let blockRows = 64

    /// out[i, j] = a[i, :K] · b[j, :K] (+ bias[j]) for i in 0 ..< M, j in j0 ..< j1.
    ///
    /// - out: [M, ldo], a: [M, lda], b: [N, ldb], bias: [N] or nil.
    static func tiles(
        _ out: UnsafeMutablePointer<Float>, ldo: Int, _ a: UnsafePointer<Float>, lda: Int,
        _ b: UnsafePointer<Float>, ldb: Int, bias: UnsafePointer<Float>?,
        m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        for jb in stride(from: j0, to: j1, by: blockRows) {
            let je = min(jb + blockRows, j1)
            var i = 0
            while i + 3 <= m {
                var j = jb
                while j < je {
                    dot3x4(out + i * ldo + j, ldo, a + i * lda, lda, b, ldb, j, je, k, bias)
                    j += 4
                }
                i += 3
            }
            while i < m {
                var j = jb
                while j < je {
                    dot1x8(out + i * ldo + j, a + i * lda, b, ldb, j, je, k, bias)
                    j += 8
                }
                i += 1
            }
        }
    }

    /// The tail of one dot product after the lanes: their sum, then the remaining terms in order.
    @inline(__always)
    private static func finish(
        _ lanes: SIMD8<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, from p: Int, _ k: Int
    ) -> Float {
        var r = VectorMath.sum(lanes)
        var q = p
        while q < k {
            r = r.addingProduct(a[q], b[q])
            q += 1
        }
        return r
    }

    /// out[0, 0 ..< 8] for one row of a against b rows j ..< j+8 (those ≥ end are computed on row
    /// end−1 and not stored).
    @inline(never)
    private static func dot1x8(
        _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>, _ ldb: Int, _ j: Int, _ end: Int, _ k: Int, _ bias: UnsafePointer<Float>?
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        func row(_ q: Int) -> UnsafePointer<Float> { b + min(j + q, end - 1) * ldb }
        let b0 = row(0), b1 = row(1), b2 = row(2), b3 = row(3)
        let b4 = row(4), b5 = row(5), b6 = row(6), b7 = row(7)
        var s0 = V(), s1 = V(), s2 = V(), s3 = V(), s4 = V(), s5 = V(), s6 = V(), s7 = V()
        var p = 0
        while p + 8 <= k {
            let x = load(a + p)
            s0 = s0.addingProduct(x, load(b0 + p)); s1 = s1.addingProduct(x, load(b1 + p))
            s2 = s2.addingProduct(x, load(b2 + p)); s3 = s3.addingProduct(x, load(b3 + p))
            s4 = s4.addingProduct(x, load(b4 + p)); s5 = s5.addingProduct(x, load(b5 + p))
            s6 = s6.addingProduct(x, load(b6 + p)); s7 = s7.addingProduct(x, load(b7 + p))
            p += 8
        }
        let count = min(8, end - j)
        if p == k {
            store(VectorMath.sum4(s0, s1, s2, s3), out, j, min(count, 4), bias)
            if count > 4 { store(VectorMath.sum4(s4, s5, s6, s7), out + 4, j + 4, count - 4, bias) }
            return
        }
        func put(_ q: Int, _ lanes: V, _ bq: UnsafePointer<Float>) {
            if q < count { out[q] = finish(lanes, a, bq, from: p, k) + (bias?[j + q] ?? 0) }
        }
        put(0, s0, b0); put(1, s1, b1); put(2, s2, b2); put(3, s3, b3)
        put(4, s4, b4); put(5, s5, b5); put(6, s6, b6); put(7, s7, b7)
    }

    /// out[0 ..< 3, 0 ..< 4] (rows ldo apart) for three rows of a against b rows j ..< j+4.
    @inline(never)
    private static func dot3x4(
        _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int, _ j: Int, _ end: Int, _ k: Int, _ bias: UnsafePointer<Float>?
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        func row(_ q: Int) -> UnsafePointer<Float> { b + min(j + q, end - 1) * ldb }
        let b0 = row(0), b1 = row(1), b2 = row(2), b3 = row(3)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda
        var s00 = V(), s01 = V(), s02 = V(), s03 = V()
        var s10 = V(), s11 = V(), s12 = V(), s13 = V()
        var s20 = V(), s21 = V(), s22 = V(), s23 = V()
        var p = 0
        while p + 8 <= k {
            let x0 = load(a0 + p), x1 = load(a1 + p), x2 = load(a2 + p)
            var w = load(b0 + p)
            s00 = s00.addingProduct(x0, w); s10 = s10.addingProduct(x1, w); s20 = s20.addingProduct(x2, w)
            w = load(b1 + p)
            s01 = s01.addingProduct(x0, w); s11 = s11.addingProduct(x1, w); s21 = s21.addingProduct(x2, w)
            w = load(b2 + p)
            s02 = s02.addingProduct(x0, w); s12 = s12.addingProduct(x1, w); s22 = s22.addingProduct(x2, w)
            w = load(b3 + p)
            s03 = s03.addingProduct(x0, w); s13 = s13.addingProduct(x1, w); s23 = s23.addingProduct(x2, w)
            p += 8
        }
        let count = min(4, end - j)
        if p == k {
            store(VectorMath.sum4(s00, s01, s02, s03), out, j, count, bias)
            store(VectorMath.sum4(s10, s11, s12, s13), out + ldo, j, count, bias)
            store(VectorMath.sum4(s20, s21, s22, s23), out + 2 * ldo, j, count, bias)
            return
        }
        func put(_ r: Int, _ q: Int, _ lanes: V, _ ar: UnsafePointer<Float>, _ bq: UnsafePointer<Float>) {
            if q < count { out[r * ldo + q] = finish(lanes, ar, bq, from: p, k) + (bias?[j + q] ?? 0) }
        }
        put(0, 0, s00, a0, b0); put(0, 1, s01, a0, b1); put(0, 2, s02, a0, b2); put(0, 3, s03, a0, b3)
        put(1, 0, s10, a1, b0); put(1, 1, s11, a1, b1); put(1, 2, s12, a1, b2); put(1, 3, s13, a1, b3)
        put(2, 0, s20, a2, b0); put(2, 1, s21, a2, b1); put(2, 2, s22, a2, b2); put(2, 3, s23, a2, b3)
    }

    /// Stores the first `count` (≤ 4) of four finished dot products, plus bias[j ..< j+count].
    @inline(__always)
    private static func store(
        _ sums: SIMD4<Float>, _ out: UnsafeMutablePointer<Float>, _ j: Int, _ count: Int, _ bias: UnsafePointer<Float>?
    ) {
        var v = sums
        if count == 4 {
            if let bias { v += UnsafeRawPointer(bias + j).loadUnaligned(as: SIMD4<Float>.self) }
            UnsafeMutableRawPointer(out).storeBytes(of: v, as: SIMD4<Float>.self)
        } else {
            for q in 0..<count { out[q] = v[q] + (bias?[j + q] ?? 0) }
        }
    }
}
