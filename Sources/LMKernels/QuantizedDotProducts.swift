/// Dot products with the rows of a `QuantizedMatrix`: out[i, j] = a[i, :] · w[j, :] (+ bias[j]), as in
/// x·wᵀ for the tied LM head. Single-threaded over a range of w rows.
///
/// Each product gets exactly `DotProducts`' operations on the widened weights (eight lane sums over
/// p = 0, 8, 16, … by fused multiply-adds, added up in `VectorMath.sum`'s order, then the last K mod 8
/// terms in order, then the bias), so results are the same bits as `DotProducts` on the dequantized
/// matrix, and do not depend on M, the tile or the thread split.
enum QuantizedDotProducts {
    /// Rows of w widened at once for several rows of a (64 rows of 768: 192 KB of scratch, in L2).
    static let blockRows = DotProducts.blockRows

    /// out[0, j] = a[0, :K] · w[j, :K] (+ bias[j]) for j in j0 ..< j1: one row, widening w on the fly.
    ///
    /// - out: [N], a: [K], w: [N, K], bias: [N] or nil.
    static func vector<W: QuantizedRows>(
        _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ w: W, bias: UnsafePointer<Float>?,
        k: Int, rows j0: Int, _ j1: Int
    ) {
        var j = j0
        while j < j1 {
            dot1x8(out + j, a, w, j, j1, k, bias)
            j += 8
        }
    }

    /// out[M, j] = a[M, :K] · w[j, :K] (+ bias[j]) for j in j0 ..< j1 and M ≥ 1 rows: blocks of w rows
    /// widened into per-thread scratch, then `DotProducts.tiles` on them (each widened once for all M).
    ///
    /// - out: [M, ldo], a: [M, lda], w: [N, K], bias: [N] or nil.
    static func tiles<W: QuantizedRows>(
        _ out: UnsafeMutablePointer<Float>, ldo: Int, _ a: UnsafePointer<Float>, lda: Int, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, rows j0: Int, _ j1: Int
    ) {
        let block = ThreadScratch.floats(.packedPanels, count: max(1, blockRows * k))
        for jb in stride(from: j0, to: j1, by: blockRows) {
            let je = min(jb + blockRows, j1)
            for j in jb..<je { w.row(j).dequantize(into: block + (j - jb) * k, columns: k) }
            DotProducts.tiles(out + jb, ldo: ldo, a, lda: lda, block, ldb: k, bias: bias.map { $0 + jb },
                              m: m, k: k, columns: 0, je - jb)
        }
    }

    /// out[0 ..< 8] for one row of a against w rows j ..< j+8 (those ≥ end are computed on row end−1
    /// and not stored). Whole q8_0 blocks take the eight rows' scales once per 32 columns.
    @inline(never)
    private static func dot1x8<W: QuantizedRows>(
        _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ w: W, _ j: Int, _ end: Int,
        _ k: Int, _ bias: UnsafePointer<Float>?
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        @inline(__always) func row(_ q: Int) -> W.Row { w.row(min(j + q, end - 1)) }
        let b0 = row(0), b1 = row(1), b2 = row(2), b3 = row(3)
        let b4 = row(4), b5 = row(5), b6 = row(6), b7 = row(7)
        var s0 = V(), s1 = V(), s2 = V(), s3 = V(), s4 = V(), s5 = V(), s6 = V(), s7 = V()
        var p = 0
        while p + 32 <= k {
            let f0 = b0.factor(p), f1 = b1.factor(p), f2 = b2.factor(p), f3 = b3.factor(p)
            let f4 = b4.factor(p), f5 = b5.factor(p), f6 = b6.factor(p), f7 = b7.factor(p)
            for c in stride(from: p, to: p + 32, by: 8) {
                let x = load(a + c)
                s0 = s0.addingProduct(x, b0.load8(c, f0)); s1 = s1.addingProduct(x, b1.load8(c, f1))
                s2 = s2.addingProduct(x, b2.load8(c, f2)); s3 = s3.addingProduct(x, b3.load8(c, f3))
                s4 = s4.addingProduct(x, b4.load8(c, f4)); s5 = s5.addingProduct(x, b5.load8(c, f5))
                s6 = s6.addingProduct(x, b6.load8(c, f6)); s7 = s7.addingProduct(x, b7.load8(c, f7))
            }
            p += 32
        }
        while p + 8 <= k {
            let x = load(a + p)
            s0 = s0.addingProduct(x, b0.load8(p, b0.factor(p))); s1 = s1.addingProduct(x, b1.load8(p, b1.factor(p)))
            s2 = s2.addingProduct(x, b2.load8(p, b2.factor(p))); s3 = s3.addingProduct(x, b3.load8(p, b3.factor(p)))
            s4 = s4.addingProduct(x, b4.load8(p, b4.factor(p))); s5 = s5.addingProduct(x, b5.load8(p, b5.factor(p)))
            s6 = s6.addingProduct(x, b6.load8(p, b6.factor(p))); s7 = s7.addingProduct(x, b7.load8(p, b7.factor(p)))
            p += 8
        }
        let count = min(8, end - j)
        if p == k {
            store(VectorMath.sum4(s0, s1, s2, s3), out, j, min(count, 4), bias)
            if count > 4 { store(VectorMath.sum4(s4, s5, s6, s7), out + 4, j + 4, count - 4, bias) }
            return
        }
        @inline(__always) func put(_ q: Int, _ lanes: V, _ bq: W.Row) {
            guard q < count else { return }
            var r = VectorMath.sum(lanes)
            for c in p..<k { r = r.addingProduct(a[c], bq.load1(c)) }
            out[q] = r + (bias?[j + q] ?? 0)
        }
        put(0, s0, b0); put(1, s1, b1); put(2, s2, b2); put(3, s3, b3)
        put(4, s4, b4); put(5, s5, b5); put(6, s6, b6); put(7, s7, b7)
    }

    /// Stores the first `count` (≤ 4) of four finished dot products, plus bias[j ..< j+count] (as
    /// `DotProducts` does: one addition each).
    @inline(__always)
    private static func store(
        _ sums: SIMD4<Float>, _ out: UnsafeMutablePointer<Float>, _ j: Int, _ count: Int, _ bias: UnsafePointer<Float>?
    ) {
        if let bias {
            for q in 0..<count { out[q] = sums[q] + bias[j + q] }
        } else {
            for q in 0..<count { out[q] = sums[q] }
        }
    }
}
