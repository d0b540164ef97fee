/// The matrix product y = x·w (+ bias) with w [K, N] a `QuantizedMatrix` in column-major tile order
/// (Conv1D layout), over a range of output columns; `Kernels.quantizedMatmul` splits them between threads.
///
/// Each output element gets exactly `Gemm`'s operations — bias (or 0), then one fused multiply-add per
/// p = 0, 1, …, K−1 in order — on the widened weight, so the result is the same bits as `Gemm` on the
/// dequantized matrix, whatever M, the split or the tile.
enum QuantizedGemm {
    typealias V = SIMD8<Float>

    /// y[M, 32·c0 ..< min(N, 32·c1)] = x[M, K] · w[K, …] (+ bias) for M ≤ 4 rows, streaming w once.
    ///
    /// - y: [M, ldy], x: [M, ldx], w: [K, N], bias: [N] or nil.
    /// Column block by column block (32 columns: one tile wide): its tiles, top to bottom, are one
    /// sequential run of memory, and its 32 sums per row stay in registers until K is done; each sum
    /// is written once.
    static func streaming<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int, chunks c0: Int, _ c1: Int
    ) {
        for c in c0..<c1 {
            if m == 1 {
                column1(y, x, w, bias: bias, k: k, n: n, chunk: c)
            } else {
                columnFew(y, ldy: ldy, x, ldx: ldx, w, bias: bias, m: m, k: k, n: n, chunk: c)
            }
        }
    }

    /// The bias (or zeros) for columns 32·chunk ..< 32·chunk + 32 as four vectors; lanes past N are 0.
    @inline(__always)
    private static func initial(_ bias: UnsafePointer<Float>?, _ j: Int, _ width: Int) -> (V, V, V, V) {
        guard let bias else { return (V(), V(), V(), V()) }
        if width == 32 {
            let b = bias + j
            return (VectorMath.load(b), VectorMath.load(b + 8), VectorMath.load(b + 16), VectorMath.load(b + 24))
        }
        func part(_ s: Int) -> V { VectorMath.loadPartial(bias + j + s, count: max(0, width - s)) }
        return (part(0), part(8), part(16), part(24))
    }

    /// Stores four vectors as columns j ..< j + width of a row.
    @inline(__always)
    private static func put(_ a: (V, V, V, V), _ y: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 32 {
            VectorMath.store(a.0, y); VectorMath.store(a.1, y + 8)
            VectorMath.store(a.2, y + 16); VectorMath.store(a.3, y + 24)
        } else {
            VectorMath.storePartial(a.0, y, count: width)
            VectorMath.storePartial(a.1, y + 8, count: max(0, width - 8))
            VectorMath.storePartial(a.2, y + 16, count: max(0, width - 16))
            VectorMath.storePartial(a.3, y + 24, count: max(0, width - 24))
        }
    }

    /// y[0, 32·chunk …] for one row: 32 sums in four registers over all of K.
    @inline(never)
    private static func column1<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: W,
        bias: UnsafePointer<Float>?, k: Int, n: Int, chunk: Int
    ) {
        let j = chunk &* 32, width = min(32, n &- j)
        var (a, b, c, d) = initial(bias, j, width)
        let groups = k &>> 3
        var g = 0
        while g < groups {
            let t = w.tile(g, chunk), f = t.factors(), xp = x + g &* 8
            @inline(__always) func row(_ r: Int) {
                let xr = V(repeating: xp[r]), fr = V(repeating: f[r])
                a = a.addingProduct(xr, t.load8(r, 0, fr)); b = b.addingProduct(xr, t.load8(r, 8, fr))
                c = c.addingProduct(xr, t.load8(r, 16, fr)); d = d.addingProduct(xr, t.load8(r, 24, fr))
            }
            row(0); row(1); row(2); row(3); row(4); row(5); row(6); row(7)
            g &+= 1
        }
        // The last K mod 8 rows of w: the first rows of one more tile.
        let rest = k &- groups &* 8
        if rest > 0 {
            let t = w.tile(groups, chunk), f = t.factors(), xp = x + groups &* 8
            for r in 0..<rest {
                let xr = V(repeating: xp[r]), fr = V(repeating: f[r])
                a = a.addingProduct(xr, t.load8(r, 0, fr)); b = b.addingProduct(xr, t.load8(r, 8, fr))
                c = c.addingProduct(xr, t.load8(r, 16, fr)); d = d.addingProduct(xr, t.load8(r, 24, fr))
            }
        }
        put((a, b, c, d), y + j, width)
    }

    /// y[M, 32·chunk …] for 2 to 4 rows: 4 × 32 sums in sixteen registers over all of K, each widened
    /// vector of w applied to every row (rows past M repeat row 0 and are not stored).
    @inline(never)
    private static func columnFew<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int, chunk: Int
    ) {
        let j = chunk &* 32, width = min(32, n &- j)
        let start = initial(bias, j, width)
        var a0 = start, a1 = start, a2 = start, a3 = start
        let x0 = x, x1 = m > 1 ? x + ldx : x, x2 = m > 2 ? x + 2 &* ldx : x, x3 = m > 3 ? x + 3 &* ldx : x
        @inline(__always) func row(_ t: W.Tile, _ fr: V, _ r: Int, _ p: Int) {
            let b0 = V(repeating: x0[p]), b1 = V(repeating: x1[p]), b2 = V(repeating: x2[p]), b3 = V(repeating: x3[p])
            var v = t.load8(r, 0, fr)
            a0.0 = a0.0.addingProduct(b0, v); a1.0 = a1.0.addingProduct(b1, v)
            a2.0 = a2.0.addingProduct(b2, v); a3.0 = a3.0.addingProduct(b3, v)
            v = t.load8(r, 8, fr)
            a0.1 = a0.1.addingProduct(b0, v); a1.1 = a1.1.addingProduct(b1, v)
            a2.1 = a2.1.addingProduct(b2, v); a3.1 = a3.1.addingProduct(b3, v)
            v = t.load8(r, 16, fr)
            a0.2 = a0.2.addingProduct(b0, v); a1.2 = a1.2.addingProduct(b1, v)
            a2.2 = a2.2.addingProduct(b2, v); a3.2 = a3.2.addingProduct(b3, v)
            v = t.load8(r, 24, fr)
            a0.3 = a0.3.addingProduct(b0, v); a1.3 = a1.3.addingProduct(b1, v)
            a2.3 = a2.3.addingProduct(b2, v); a3.3 = a3.3.addingProduct(b3, v)
        }
        let groups = k &>> 3
        var g = 0
        while g < groups {
            let t = w.tile(g, chunk), f = t.factors(), p = g &* 8
            for r in 0..<8 { row(t, V(repeating: f[r]), r, p &+ r) }
            g &+= 1
        }
        let rest = k &- groups &* 8
        if rest > 0 {
            let t = w.tile(groups, chunk), f = t.factors()
            for r in 0..<rest { row(t, V(repeating: f[r]), r, groups &* 8 &+ r) }
        }
        put(a0, y + j, width)
        if m > 1 { put(a1, y + (ldy &+ j), width) }
        if m > 2 { put(a2, y + (2 &* ldy &+ j), width) }
        if m > 3 { put(a3, y + (3 &* ldy &+ j), width) }
    }

    /// y[M, j0 ..< j1] = x[M, K] · w[K, j0 ..< j1] (+ bias), blocked and register-tiled as `Gemm.blocked`:
    /// panels of w (blockDepth × 16) are widened into per-thread scratch, then `Gemm.kernel` accumulates
    /// 6×16 tiles of y on them. j0 is a multiple of 16.
    ///
    /// - y: [M, ldy], x: [M, ldx], w: [K, N], bias: [N] or nil.
    static func blocked<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int,
        _ w: W, bias: UnsafePointer<Float>?, m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        guard m > 0, j1 > j0 else { return }
        if k == 0 {
            for i in 0..<m {
                for j in j0..<j1 { y[i * ldy + j] = bias?[j] ?? 0 }
            }
            return
        }
        let packed = ThreadScratch.floats(.packedPanels, count: Gemm.blockDepth * Gemm.blockColumns)
        for jc in stride(from: j0, to: j1, by: Gemm.blockColumns) {
            let columns = min(Gemm.blockColumns, j1 - jc)
            let panels = (columns + Gemm.tileColumns - 1) / Gemm.tileColumns
            for pc in stride(from: 0, to: k, by: Gemm.blockDepth) {
                let depth = min(Gemm.blockDepth, k - pc)
                pack(packed, w, row: pc, depth: depth, column: jc, columns: columns)
                for ic in stride(from: 0, to: m, by: Gemm.blockRows) {
                    let rows = min(Gemm.blockRows, m - ic)
                    for panel in 0..<panels {
                        let j = jc + panel * Gemm.tileColumns
                        Gemm.Tile(
                            y: y, ldy: ldy, x: x + pc, ldx: ldx, panel: packed + panel * depth * Gemm.tileColumns,
                            depth: depth, column: j, columns: min(Gemm.tileColumns, j1 - j),
                            bias: pc == 0 ? bias : nil, first: pc == 0)
                            .run(rows: ic, ic + rows)
                    }
                }
            }
        }
    }

    /// Widens w[row ..< row + depth, column ..< column + columns] into ⌈columns/16⌉ consecutive
    /// depth × 16 panels, zero-padding the last one. Panel by panel, so that each reads its tiles
    /// (column-major) in order.
    @inline(__always)
    private static func pack<W: QuantizedTiles>(
        _ dst: UnsafeMutablePointer<Float>, _ w: W, row: Int, depth: Int, column: Int, columns: Int
    ) {
        let tile = Gemm.tileColumns
        let panels = (columns + tile - 1) / tile
        for panel in 0..<panels {
            let c = column &+ panel &* tile, width = min(tile, columns - panel * tile)
            var d = dst + panel &* depth &* tile
            for p in 0..<depth {
                let r = row &+ p
                if width == tile {
                    // c is a multiple of 16: both halves lie in one tile.
                    VectorMath.store(w.load8(row: r, column: c), d)
                    VectorMath.store(w.load8(row: r, column: c &+ 8), d + 8)
                } else {
                    for i in 0..<tile { d[i] = i < width ? w.load1(row: r, column: c &+ i) : 0 }
                }
                d += tile
            }
        }
    }
}
