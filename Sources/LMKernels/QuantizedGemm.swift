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

    /// acc[M, j1 − j0] += x[M, K] · w[K, j0 ..< j1] for M ≤ 4 rows, streaming w once; j0 is a multiple of 32.
    ///
    /// - acc: [M, j1 − j0] (column j0 at index 0, holding the bias), x: [M, ldx], w: [K, N].
    /// One row (decode) sweeps a row group of w (8 rows) at a time over the columns, a tile at a time,
    /// with x's eight values in registers and acc in L1; two to four rows take four rows of w at a time,
    /// each widened slice applied to every row of acc.
    static func streaming<W: QuantizedTiles>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W,
        m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        var p = 0
        if m == 1 {
            while p + 8 <= k {
                sweep8(acc, x + p, w, group: p >> 3, columns: j0, j1)
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

    /// acc[0, :] += x[0 ..< 8] · w[8·group ..< 8·group + 8, j0 ..< j1], one fused multiply-add per row of w in order.
    @inline(never)
    private static func sweep8<W: QuantizedTiles>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: W, group: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        let xs = (V(repeating: x[0]), V(repeating: x[1]), V(repeating: x[2]), V(repeating: x[3]),
                  V(repeating: x[4]), V(repeating: x[5]), V(repeating: x[6]), V(repeating: x[7]))
        var j = j0, chunk = j0 &>> 5
        // Whole tiles: four accumulators, each row's scale fetched once.
        while j &+ 32 <= j1 {
            let t = w.tile(group, chunk), f = t.factors()
            let y = acc + (j &- j0)
            var a = VectorMath.load(y), b = VectorMath.load(y + 8)
            var c = VectorMath.load(y + 16), d = VectorMath.load(y + 24)
            @inline(__always) func apply(_ r: Int, _ xr: V) {
                let fr = V(repeating: f[r])
                a = a.addingProduct(xr, t.load8(r, 0, fr)); b = b.addingProduct(xr, t.load8(r, 8, fr))
                c = c.addingProduct(xr, t.load8(r, 16, fr)); d = d.addingProduct(xr, t.load8(r, 24, fr))
            }
            apply(0, xs.0); apply(1, xs.1); apply(2, xs.2); apply(3, xs.3)
            apply(4, xs.4); apply(5, xs.5); apply(6, xs.6); apply(7, xs.7)
            VectorMath.store(a, y); VectorMath.store(b, y + 8)
            VectorMath.store(c, y + 16); VectorMath.store(d, y + 24)
            j &+= 32
            chunk &+= 1
        }
        guard j < j1 else { return }
        // The last, partial tile: eight columns at a time, then one.
        let t = w.tile(group, chunk), f = t.factors()
        var o = 0
        while j &+ 8 <= j1 {
            let y = acc + (j &- j0)
            var a = VectorMath.load(y)
            @inline(__always) func apply(_ r: Int, _ xr: V) { a = a.addingProduct(xr, t.load8(r, o, V(repeating: f[r]))) }
            apply(0, xs.0); apply(1, xs.1); apply(2, xs.2); apply(3, xs.3)
            apply(4, xs.4); apply(5, xs.5); apply(6, xs.6); apply(7, xs.7)
            VectorMath.store(a, y)
            j &+= 8
            o &+= 8
        }
        while j < j1 {
            var a = acc[j &- j0]
            for r in 0..<8 { a = a.addingProduct(x[r], t.load1(r, o)) }
            acc[j &- j0] = a
            j &+= 1
            o &+= 1
        }
    }

    /// acc[M, :] += x[M, 0 ..< 4] · w[row ..< row + 4, j0 ..< j1] for M ≤ 4 (row a multiple of 4, so the
    /// four rows share a tile), each widened slice of w applied to every row of acc while in registers.
    @inline(never)
    private static func sweep4<W: QuantizedTiles>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W, row: Int,
        m: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        let width = j1 &- j0, group = row &>> 3, r0 = row & 7
        @inline(__always) func apply(_ j: Int, _ v0: V, _ v1: V, _ v2: V, _ v3: V) {
            for i in 0..<m {
                let xi = x + i &* ldx, y = acc + (i &* width &+ j &- j0)
                var a = VectorMath.load(y)
                a = a.addingProduct(V(repeating: xi[0]), v0)
                a = a.addingProduct(V(repeating: xi[1]), v1)
                a = a.addingProduct(V(repeating: xi[2]), v2)
                a = a.addingProduct(V(repeating: xi[3]), v3)
                VectorMath.store(a, y)
            }
        }
        var j = j0, chunk = j0 &>> 5
        while j < j1 {
            let t = w.tile(group, chunk), f = t.factors()
            let f0 = V(repeating: f[r0]), f1 = V(repeating: f[r0 &+ 1])
            let f2 = V(repeating: f[r0 &+ 2]), f3 = V(repeating: f[r0 &+ 3])
            var o = 0
            while o < 32 && j &+ 8 <= j1 {
                apply(j, t.load8(r0, o, f0), t.load8(r0 &+ 1, o, f1), t.load8(r0 &+ 2, o, f2), t.load8(r0 &+ 3, o, f3))
                j &+= 8
                o &+= 8
            }
            while o < 32 && j < j1 {
                let v0 = t.load1(r0, o), v1 = t.load1(r0 &+ 1, o), v2 = t.load1(r0 &+ 2, o), v3 = t.load1(r0 &+ 3, o)
                for i in 0..<m {
                    let xi = x + i &* ldx, y = acc + (i &* width &+ j &- j0)
                    var a = y[0]
                    a = a.addingProduct(xi[0], v0); a = a.addingProduct(xi[1], v1)
                    a = a.addingProduct(xi[2], v2); a = a.addingProduct(xi[3], v3)
                    y[0] = a
                }
                j &+= 1
                o &+= 1
            }
            chunk &+= 1
        }
    }

    /// acc[M, :] += x[M, 0] · w[row, j0 ..< j1]: one row of w (the last K mod 8 or K mod 4).
    private static func sweep1<W: QuantizedTiles>(
        _ acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ldx: Int, _ w: W, row: Int,
        m: Int, columns j0: Int, _ j1: Int
    ) {
        let width = j1 - j0
        var j = j0
        while j + 8 <= j1 {
            let v = w.load8(row: row, column: j)
            for i in 0..<m {
                let y = acc + i * width + (j - j0)
                VectorMath.store(VectorMath.load(y).addingProduct(SIMD8(repeating: x[i * ldx]), v), y)
            }
            j += 8
        }
        while j < j1 {
            let v = w.load1(row: row, column: j)
            for i in 0..<m { acc[i * width + j - j0] = acc[i * width + j - j0].addingProduct(x[i * ldx], v) }
            j += 1
        }
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
                        let tile = PanelTile(
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
    private static func pack<W: QuantizedTiles>(
        _ dst: UnsafeMutablePointer<Float>, _ w: W, row: Int, depth: Int, column: Int, columns: Int
    ) {
        let tile = Gemm.tileColumns
        let full = columns / tile, rest = columns - full * tile
        let panelSize = depth * tile
        for p in 0..<depth {
            let r = row &+ p
            var d = dst + p * tile
            var c = column
            for _ in 0..<full {
                // c is a multiple of 16: both halves lie in one tile.
                VectorMath.store(w.load8(row: r, column: c), d)
                VectorMath.store(w.load8(row: r, column: c &+ 8), d + 8)
                d += panelSize
                c &+= tile
            }
            if rest > 0 {
                for i in 0..<tile { d[i] = i < rest ? w.load1(row: r, column: c &+ i) : 0 }
            }
        }
    }
}

/// One column panel of y for one packed depth block (as `Gemm`'s private tile, which this file
/// cannot reach): full 6×16 tiles run `Gemm.kernel` in place, partial ones on a local copy.
private struct PanelTile {
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
