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

    /// out[0, j] = a[0, :K] · w[j, :K] (+ bias[j]) for j in j0 ..< j1: one row, widening w on the fly;
    /// j0 is a multiple of 8.
    ///
    /// - out: [N], a: [K], w: [N, K], bias: [N] or nil.
    static func vector<W: QuantizedTiles>(
        _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ w: W, bias: UnsafePointer<Float>?,
        k: Int, rows j0: Int, _ j1: Int
    ) {
        var j = j0
        while j < j1 {
            dot1x8(out + j, a, w, j, j1, k, bias)
            j += 8
        }
    }

    /// out[M, j] = a[M, :K] · w[j, :K] (+ bias[j]) for j in j0 ..< j1 and 2 ≤ M ≤ 4 rows (several
    /// sequences decoding together): w widened on the fly, each vector used for every row; j0 is a
    /// multiple of 8.
    ///
    /// - out: [M, ldo], a: [M, lda], w: [N, K], bias: [N] or nil.
    static func few<W: QuantizedTiles>(
        _ out: UnsafeMutablePointer<Float>, ldo: Int, _ a: UnsafePointer<Float>, lda: Int, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, rows j0: Int, _ j1: Int
    ) {
        var j = j0
        while j < j1 {
            dot4x4(out, ldo, a, lda, m, w, j, j1, k, bias)
            j += 4
        }
    }

    /// out[M, j] = a[M, :K] · w[j, :K] (+ bias[j]) for j in j0 ..< j1 and any M: blocks of w rows
    /// widened into per-thread scratch, then `DotProducts.tiles` on them (each widened once for all M).
    ///
    /// - out: [M, ldo], a: [M, lda], w: [N, K], bias: [N] or nil.
    static func tiles<W: QuantizedTiles>(
        _ out: UnsafeMutablePointer<Float>, ldo: Int, _ a: UnsafePointer<Float>, lda: Int, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, rows j0: Int, _ j1: Int
    ) {
        let block = ThreadScratch.floats(.packedPanels, count: max(1, blockRows * k))
        for jb in stride(from: j0, to: j1, by: blockRows) {
            let je = min(jb + blockRows, j1)
            for j in jb..<je { w.dequantize(row: j, into: block + (j - jb) * k, columns: k) }
            DotProducts.tiles(out + jb, ldo: ldo, a, lda: lda, block, ldb: k, bias: bias.map { $0 + jb },
                              m: m, k: k, columns: 0, je - jb)
        }
    }

    /// out[0 ..< 8] for one row of a against w rows j ..< j+8 (a row group; those ≥ end are computed,
    /// on the group's zero padding or rows another call owns, and not stored). A tile's eight scales
    /// are fetched once per 32 columns.
    @inline(never)
    private static func dot1x8<W: QuantizedTiles>(
        _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ w: W, _ j: Int, _ end: Int,
        _ k: Int, _ bias: UnsafePointer<Float>?
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        let group = j &>> 3
        var s0 = V(), s1 = V(), s2 = V(), s3 = V(), s4 = V(), s5 = V(), s6 = V(), s7 = V()
        @inline(__always) func step(_ t: W.Tile, _ f: V, _ p: Int, _ o: Int) {
            let x = load(a + p)
            s0 = s0.addingProduct(x, t.load8(0, o, V(repeating: f[0]))); s1 = s1.addingProduct(x, t.load8(1, o, V(repeating: f[1])))
            s2 = s2.addingProduct(x, t.load8(2, o, V(repeating: f[2]))); s3 = s3.addingProduct(x, t.load8(3, o, V(repeating: f[3])))
            s4 = s4.addingProduct(x, t.load8(4, o, V(repeating: f[4]))); s5 = s5.addingProduct(x, t.load8(5, o, V(repeating: f[5])))
            s6 = s6.addingProduct(x, t.load8(6, o, V(repeating: f[6]))); s7 = s7.addingProduct(x, t.load8(7, o, V(repeating: f[7])))
        }
        var p = 0, chunk = 0
        while p &+ 32 <= k {
            let t = w.tile(group, chunk), f = t.factors()
            step(t, f, p, 0); step(t, f, p &+ 8, 8); step(t, f, p &+ 16, 16); step(t, f, p &+ 24, 24)
            p &+= 32
            chunk &+= 1
        }
        let last = w.tile(group, chunk), f = last.factors()
        while p &+ 8 <= k {
            step(last, f, p, p & 31)
            p &+= 8
        }
        let count = min(8, end - j)
        if p == k {
            store(VectorMath.sum4(s0, s1, s2, s3), out, j, min(count, 4), bias)
            if count > 4 { store(VectorMath.sum4(s4, s5, s6, s7), out + 4, j + 4, count - 4, bias) }
            return
        }
        @inline(__always) func put(_ q: Int, _ lanes: V) {
            guard q < count else { return }
            var r = VectorMath.sum(lanes)
            for c in p..<k { r = r.addingProduct(a[c], last.load1(q, c & 31)) }
            out[q] = r + (bias?[j + q] ?? 0)
        }
        put(0, s0); put(1, s1); put(2, s2); put(3, s3)
        put(4, s4); put(5, s5); put(6, s6); put(7, s7)
    }

    /// out[i, j ..< j+4] for rows i < M ≤ 4 of a (rows past M repeat row 0 and are not stored) against
    /// w rows j ..< j+4 (half a row group; those ≥ end are computed and not stored): sixteen lane sums.
    @inline(never)
    private static func dot4x4<W: QuantizedTiles>(
        _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ m: Int,
        _ w: W, _ j: Int, _ end: Int, _ k: Int, _ bias: UnsafePointer<Float>?
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        let group = j &>> 3, r0 = j & 7
        let a0 = a, a1 = m > 1 ? a + lda : a, a2 = m > 2 ? a + 2 &* lda : a, a3 = m > 3 ? a + 3 &* lda : a
        var s0 = (V(), V(), V(), V()), s1 = s0, s2 = s0, s3 = s0  // s_i.q: row i of a, row j+q of w
        @inline(__always) func step(_ t: W.Tile, _ f: V, _ p: Int, _ o: Int) {
            let x0 = load(a0 + p), x1 = load(a1 + p), x2 = load(a2 + p), x3 = load(a3 + p)
            var v = t.load8(r0, o, V(repeating: f[r0]))
            s0.0 = s0.0.addingProduct(x0, v); s1.0 = s1.0.addingProduct(x1, v)
            s2.0 = s2.0.addingProduct(x2, v); s3.0 = s3.0.addingProduct(x3, v)
            v = t.load8(r0 &+ 1, o, V(repeating: f[r0 &+ 1]))
            s0.1 = s0.1.addingProduct(x0, v); s1.1 = s1.1.addingProduct(x1, v)
            s2.1 = s2.1.addingProduct(x2, v); s3.1 = s3.1.addingProduct(x3, v)
            v = t.load8(r0 &+ 2, o, V(repeating: f[r0 &+ 2]))
            s0.2 = s0.2.addingProduct(x0, v); s1.2 = s1.2.addingProduct(x1, v)
            s2.2 = s2.2.addingProduct(x2, v); s3.2 = s3.2.addingProduct(x3, v)
            v = t.load8(r0 &+ 3, o, V(repeating: f[r0 &+ 3]))
            s0.3 = s0.3.addingProduct(x0, v); s1.3 = s1.3.addingProduct(x1, v)
            s2.3 = s2.3.addingProduct(x2, v); s3.3 = s3.3.addingProduct(x3, v)
        }
        var p = 0, chunk = 0
        while p &+ 32 <= k {
            let t = w.tile(group, chunk), f = t.factors()
            step(t, f, p, 0); step(t, f, p &+ 8, 8); step(t, f, p &+ 16, 16); step(t, f, p &+ 24, 24)
            p &+= 32
            chunk &+= 1
        }
        let last = w.tile(group, chunk), f = last.factors()
        while p &+ 8 <= k {
            step(last, f, p, p & 31)
            p &+= 8
        }
        let count = min(4, end - j)
        @inline(__always) func finish(_ i: Int, _ s: (V, V, V, V), _ ai: UnsafePointer<Float>) {
            let o = out + (i &* ldo &+ j)
            if p == k {
                store(VectorMath.sum4(s.0, s.1, s.2, s.3), o, j, count, bias)
                return
            }
            @inline(__always) func put(_ q: Int, _ lanes: V) {
                guard q < count else { return }
                var r = VectorMath.sum(lanes)
                for c in p..<k { r = r.addingProduct(ai[c], last.load1(r0 &+ q, c & 31)) }
                o[q] = r + (bias?[j + q] ?? 0)
            }
            put(0, s.0); put(1, s.1); put(2, s.2); put(3, s.3)
        }
        finish(0, s0, a0)
        if m > 1 { finish(1, s1, a1) }
        if m > 2 { finish(2, s2, a2) }
        if m > 3 { finish(3, s3, a3) }
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
