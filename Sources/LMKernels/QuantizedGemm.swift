/// The matrix product y = x·w (+ bias) with w [K, N] a `QuantizedMatrix` (Conv1D layout), over a
/// range of output columns; `Kernels.matmul(_:_:_:bias:m:k:n:)` splits the columns between threads.
///
/// Each output element gets exactly `Gemm`'s operations — bias (or 0), then one fused multiply-add per
/// p = 0, 1, …, K−1 in order — on the widened weight, so the result is the same bits as `Gemm` on the
/// dequantized matrix, whatever M, the split or the tile. Column ranges start on a multiple of 32
/// (a whole q8_0 block).
enum QuantizedGemm {
    /// Columns per unit of work: one q8_0 block.
    static let columnUnit = QuantizedMatrix.blockSize

    /// acc[M, j1 − j0] += x[M, K] · w[K, j0 ..< j1] for M ≤ 4 rows, streaming w once.
    ///
    /// - acc: [M, j1 − j0] (column j0 at index 0, holding the bias), x: [M, ldx], w: [K, N].
    /// One row (decode) sweeps eight rows of w at a time over the columns, with x's eight values in
    /// registers and acc in L1; two to four rows take four rows of w at a time, each widened slice
    /// applied to every row of acc.
    static func streaming<W: QuantizedRows>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W,
        m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        var p = 0
        if m == 1 {
            while p + 8 <= k {
                sweep8(acc, x + p, w, row: p, columns: j0, j1)
                p += 8
            }
        } else {
            while p + 4 <= k {
                sweep4(acc, x + p, ldx: ldx, w, row: p, m: m, columns: j0, j1)
                p += 4
            }
        }
        while p < k {
            sweep1(acc, x + p, ldx: ldx, w, row: p, m: m, columns: j0, j1)
            p += 1
        }
    }

    /// acc[0, :] += x[0 ..< 8] · w[row ..< row + 8, j0 ..< j1], one fused multiply-add per row of w in order.
    @inline(__always)
    private static func sweep8<W: QuantizedRows>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: W, row: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        let x0 = V(repeating: x[0]), x1 = V(repeating: x[1]), x2 = V(repeating: x[2]), x3 = V(repeating: x[3])
        let x4 = V(repeating: x[4]), x5 = V(repeating: x[5]), x6 = V(repeating: x[6]), x7 = V(repeating: x[7])
        let w0 = w.row(row), w1 = w.row(row + 1), w2 = w.row(row + 2), w3 = w.row(row + 3)
        let w4 = w.row(row + 4), w5 = w.row(row + 5), w6 = w.row(row + 6), w7 = w.row(row + 7)
        var j = j0
        // Whole blocks: four accumulators, one scale per row of w.
        while j + 32 <= j1 {
            let y = acc + (j - j0)
            var a = VectorMath.load(y), b = VectorMath.load(y + 8)
            var c = VectorMath.load(y + 16), d = VectorMath.load(y + 24)
            @inline(__always) func apply(_ r: W.Row, _ xr: V) {
                let f = r.factor(j)
                a = a.addingProduct(xr, r.load8(j, f)); b = b.addingProduct(xr, r.load8(j + 8, f))
                c = c.addingProduct(xr, r.load8(j + 16, f)); d = d.addingProduct(xr, r.load8(j + 24, f))
            }
            apply(w0, x0); apply(w1, x1); apply(w2, x2); apply(w3, x3)
            apply(w4, x4); apply(w5, x5); apply(w6, x6); apply(w7, x7)
            VectorMath.store(a, y); VectorMath.store(b, y + 8)
            VectorMath.store(c, y + 16); VectorMath.store(d, y + 24)
            j += 32
        }
        // The last, shorter block: eight columns at a time, then one.
        while j + 8 <= j1 {
            let y = acc + (j - j0)
            var a = VectorMath.load(y)
            @inline(__always) func apply(_ r: W.Row, _ xr: V) { a = a.addingProduct(xr, r.load8(j, r.factor(j))) }
            apply(w0, x0); apply(w1, x1); apply(w2, x2); apply(w3, x3)
            apply(w4, x4); apply(w5, x5); apply(w6, x6); apply(w7, x7)
            VectorMath.store(a, y)
            j += 8
        }
        while j < j1 {
            var a = acc[j - j0]
            a = a.addingProduct(x[0], w0.load1(j)); a = a.addingProduct(x[1], w1.load1(j))
            a = a.addingProduct(x[2], w2.load1(j)); a = a.addingProduct(x[3], w3.load1(j))
            a = a.addingProduct(x[4], w4.load1(j)); a = a.addingProduct(x[5], w5.load1(j))
            a = a.addingProduct(x[6], w6.load1(j)); a = a.addingProduct(x[7], w7.load1(j))
            acc[j - j0] = a
            j += 1
        }
    }

    /// acc[M, :] += x[M, 0 ..< 4] · w[row ..< row + 4, j0 ..< j1] for M ≤ 4, each widened slice of w
    /// applied to every row of acc while in registers.
    @inline(__always)
    private static func sweep4<W: QuantizedRows>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W, row: Int,
        m: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        let width = j1 - j0
        let w0 = w.row(row), w1 = w.row(row + 1), w2 = w.row(row + 2), w3 = w.row(row + 3)
        @inline(__always) func apply(_ j: Int, _ v0: V, _ v1: V, _ v2: V, _ v3: V) {
            for r in 0..<m {
                let xr = x + r * ldx, y = acc + r * width + (j - j0)
                var a = VectorMath.load(y)
                a = a.addingProduct(V(repeating: xr[0]), v0)
                a = a.addingProduct(V(repeating: xr[1]), v1)
                a = a.addingProduct(V(repeating: xr[2]), v2)
                a = a.addingProduct(V(repeating: xr[3]), v3)
                VectorMath.store(a, y)
            }
        }
        var j = j0
        while j + 32 <= j1 {
            let f0 = w0.factor(j), f1 = w1.factor(j), f2 = w2.factor(j), f3 = w3.factor(j)
            for s in stride(from: j, to: j + 32, by: 8) {
                apply(s, w0.load8(s, f0), w1.load8(s, f1), w2.load8(s, f2), w3.load8(s, f3))
            }
            j += 32
        }
        while j + 8 <= j1 {
            apply(j, w0.load8(j, w0.factor(j)), w1.load8(j, w1.factor(j)), w2.load8(j, w2.factor(j)), w3.load8(j, w3.factor(j)))
            j += 8
        }
        while j < j1 {
            let v0 = w0.load1(j), v1 = w1.load1(j), v2 = w2.load1(j), v3 = w3.load1(j)
            for r in 0..<m {
                let xr = x + r * ldx
                var a = acc[r * width + j - j0]
                a = a.addingProduct(xr[0], v0); a = a.addingProduct(xr[1], v1)
                a = a.addingProduct(xr[2], v2); a = a.addingProduct(xr[3], v3)
                acc[r * width + j - j0] = a
            }
            j += 1
        }
    }

    /// acc[M, :] += x[M, 0] · w[row, j0 ..< j1]: one row of w (the last K mod 8 or K mod 4).
    private static func sweep1<W: QuantizedRows>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W, row: Int,
        m: Int, columns j0: Int, _ j1: Int
    ) {
        let width = j1 - j0
        let w0 = w.row(row)
        var j = j0
        while j + 8 <= j1 {
            let v = w0.load8(j, w0.factor(j))
            for r in 0..<m {
                let y = acc + r * width + (j - j0)
                VectorMath.store(VectorMath.load(y).addingProduct(SIMD8(repeating: x[r * ldx]), v), y)
            }
            j += 8
        }
        while j < j1 {
            let v = w0.load1(j)
            for r in 0..<m { acc[r * width + j - j0] = acc[r * width + j - j0].addingProduct(x[r * ldx], v) }
            j += 1
        }
    }

    /// y[M, j0 ..< j1] = x[M, K] · w[K, j0 ..< j1] (+ bias), blocked and register-tiled as `Gemm.blocked`:
    /// panels of w (blockDepth × 16) are widened into per-thread scratch, then `Gemm.kernel` accumulates
    /// 6×16 tiles of y on them. j0 is a multiple of 16.
    ///
    /// - y: [M, ldy], x: [M, ldx], w: [K, N], bias: [N] or nil.
    static func blocked<W: QuantizedRows>(
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
                        let tile = QuantizedTile(
                            y: y, ldy: ldy, x: x + pc, ldx: ldx, panel: packed + panel * depth * Gemm.tileColumns,
                            depth: depth, column: j, columns: min(Gemm.tileColumns, j1 - j),
                            bias: pc == 0 ? bias : nil, first: pc == 0)
                        var i = ic
                        while i < ic + rows {
                            tile.run(row: i, rows: min(Gemm.tileRows, ic + rows - i))
                            i += Gemm.tileRows
                        }
                    }
                }
            }
        }
    }

    /// Widens w[row ..< row + depth, column ..< column + columns] into ⌈columns/16⌉ consecutive
    /// depth × 16 panels, zero-padding the last one; rows of w are read in order (as `Gemm`'s pack).
    @inline(__always)
    private static func pack<W: QuantizedRows>(
        _ dst: UnsafeMutablePointer<Float>, _ w: W, row: Int, depth: Int, column: Int, columns: Int
    ) {
        let tile = Gemm.tileColumns
        let full = columns / tile, rest = columns - full * tile
        let panelSize = depth * tile
        for p in 0..<depth {
            let r = w.row(row + p)
            var d = dst + p * tile
            var c = column
            for _ in 0..<full {
                // c is a multiple of 16: both halves lie in one q8_0 block.
                let f = r.factor(c)
                VectorMath.store(r.load8(c, f), d)
                VectorMath.store(r.load8(c + 8, f), d + 8)
                d += panelSize
                c += tile
            }
            if rest > 0 {
                for i in 0..<tile { d[i] = i < rest ? r.load1(c + i) : 0 }
            }
        }
    }
}

/// One column panel of y for one packed depth block (as `Gemm`'s private tile, which this file
/// cannot reach): full 6×16 tiles run `Gemm.kernel` in place, partial ones on a local copy.
private struct QuantizedTile {
    let y: UnsafeMutablePointer<Float>
    let ldy: Int
    let x: UnsafePointer<Float>
    let ldx: Int
    let panel: UnsafePointer<Float>
    let depth: Int
    let column: Int
    let columns: Int
    let bias: UnsafePointer<Float>?
    let first: Bool

    /// Accumulates rows `row ..< row + rows` (at most 6) of this panel.
    @inline(__always)
    func run(row: Int, rows: Int) {
        let c = y + row * ldy + column
        let a = x + row * ldx
        if rows == Gemm.tileRows && columns == Gemm.tileColumns {
            if !first {
                Gemm.kernel(a, ldx, panel, depth, c, ldy, c, ldy)
            } else if let bias {
                Gemm.kernel(a, ldx, panel, depth, c, ldy, bias + column, 0)
            } else {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: Gemm.tileColumns) { zero in
                    zero.initialize(repeating: 0)
                    Gemm.kernel(a, ldx, panel, depth, c, ldy, zero.baseAddress!, 0)
                }
            }
            return
        }
        // Missing rows of x repeat row 0 and missing columns are zero in the panel, so every real
        // element gets exactly the operations of a full tile.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Gemm.tileRows * Gemm.tileColumns) { buffer in
            let t = buffer.baseAddress!
            for r in 0..<Gemm.tileRows {
                for col in 0..<Gemm.tileColumns {
                    var v: Float = 0
                    if r < rows && col < columns {
                        v = first ? (bias?[column + col] ?? 0) : c[r * ldy + col]
                    }
                    t[r * Gemm.tileColumns + col] = v
                }
            }
            Gemm.kernelRows(a, ldx, rows, panel, depth, t)
            for r in 0..<rows {
                for col in 0..<columns { c[r * ldy + col] = t[r * Gemm.tileColumns + col] }
            }
        }
    }
}
