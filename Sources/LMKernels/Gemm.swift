/// The matrix product y = x·w (+ bias) with w stored K×N row-major (Conv1D layout), single-threaded
/// over a range of output columns; `Kernels` splits the columns (or rows) between threads.
///
/// Every output element is `bias[j]` (or 0) followed by one fused multiply-add per p = 0, 1, …, K−1,
/// in that order — the Reference's order, each step rounded once instead of twice. Both paths below
/// and all tile shapes keep it, so results are the same bits whatever the split, the tile an element
/// falls in, or M.
enum Gemm {
    /// Rows of x per micro-kernel tile.
    static let tileRows = 6
    /// Columns of w per micro-kernel tile (two 8-lane registers).
    static let tileColumns = 16
    /// Depth of one packed block of w (a 16-column panel of it is 16 KB: stays in L1).
    static let blockDepth = 256
    /// Columns of one packed block of w (256 × 512 floats, 512 KB: stays in L2).
    static let blockColumns = 512
    /// Rows of x per pass over a packed block (6·… rows × 256 of x: 96 KB, stays in L2).
    static let blockRows = 96

    /// y[0, j0 ..< j1] = x[0, K] · w[K, j0 ..< j1] (+ bias): one row, streaming w once.
    ///
    /// - y: [N] (row of the output), x: [K], w: [K, ldw], bias: [N] or nil.
    /// Four rows of w are applied per sweep over the columns: y stays in L1 and w is read in four
    /// sequential streams, which is what the memory system serves fastest.
    static func vector(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, ldw: Int,
        bias: UnsafePointer<Float>?, k: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        if let bias {
            (y + j0).update(from: bias + j0, count: j1 - j0)
        } else {
            (y + j0).update(repeating: 0, count: j1 - j0)
        }
        var p = 0
        while p + 4 <= k {
            let x0 = V(repeating: x[p]), x1 = V(repeating: x[p + 1])
            let x2 = V(repeating: x[p + 2]), x3 = V(repeating: x[p + 3])
            let w0 = w + p * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw
            var j = j0
            while j + 16 <= j1 {
                var a = VectorMath.load(y + j)
                var b = VectorMath.load(y + j + 8)
                a = a.addingProduct(x0, VectorMath.load(w0 + j))
                b = b.addingProduct(x0, VectorMath.load(w0 + j + 8))
                a = a.addingProduct(x1, VectorMath.load(w1 + j))
                b = b.addingProduct(x1, VectorMath.load(w1 + j + 8))
                a = a.addingProduct(x2, VectorMath.load(w2 + j))
                b = b.addingProduct(x2, VectorMath.load(w2 + j + 8))
                a = a.addingProduct(x3, VectorMath.load(w3 + j))
                b = b.addingProduct(x3, VectorMath.load(w3 + j + 8))
                VectorMath.store(a, y + j)
                VectorMath.store(b, y + j + 8)
                j += 16
            }
            while j < j1 {
                var a = y[j]
                a = a.addingProduct(x[p], w0[j])
                a = a.addingProduct(x[p + 1], w1[j])
                a = a.addingProduct(x[p + 2], w2[j])
                a = a.addingProduct(x[p + 3], w3[j])
                y[j] = a
                j += 1
            }
            p += 4
        }
        while p < k {
            let xs = x[p], x0 = V(repeating: xs)
            let w0 = w + p * ldw
            var j = j0
            while j + 8 <= j1 {
                VectorMath.store(VectorMath.load(y + j).addingProduct(x0, VectorMath.load(w0 + j)), y + j)
                j += 8
            }
            while j < j1 {
                y[j] = y[j].addingProduct(xs, w0[j])
                j += 1
            }
            p += 1
        }
    }

    /// y[M, j0 ..< j1] = x[M, K] · w[K, j0 ..< j1] (+ bias), blocked for the caches and register-tiled.
    ///
    /// - y: [M, ldy], x: [M, ldx], w: [K, ldw], bias: [N] or nil.
    /// Panels of w (blockDepth × 16) are packed contiguously into per-thread scratch, then 6×16 tiles
    /// of y are accumulated in twelve registers.
    static func blocked(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int,
        _ w: UnsafePointer<Float>, ldw: Int, bias: UnsafePointer<Float>?,
        m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        guard m > 0, j1 > j0 else { return }
        if k == 0 {
            for i in 0..<m {
                for j in j0..<j1 { y[i * ldy + j] = bias?[j] ?? 0 }
            }
            return
        }
        let packed = ThreadScratch.floats(.packedPanels, count: blockDepth * blockColumns)
        for jc in stride(from: j0, to: j1, by: blockColumns) {
            let columns = min(blockColumns, j1 - jc)
            let panels = (columns + tileColumns - 1) / tileColumns
            for pc in stride(from: 0, to: k, by: blockDepth) {
                let depth = min(blockDepth, k - pc)
                for panel in 0..<panels {
                    let j = jc + panel * tileColumns
                    pack(packed + panel * depth * tileColumns, w + pc * ldw + j, ldw: ldw,
                         depth: depth, columns: min(tileColumns, j1 - j))
                }
                for ic in stride(from: 0, to: m, by: blockRows) {
                    let rows = min(blockRows, m - ic)
                    for panel in 0..<panels {
                        let j = jc + panel * tileColumns
                        let tile = Tile(
                            y: y, ldy: ldy, x: x + pc, ldx: ldx, panel: packed + panel * depth * tileColumns,
                            depth: depth, column: j, columns: min(tileColumns, j1 - j),
                            bias: pc == 0 ? bias : nil, first: pc == 0)
                        var i = ic
                        while i < ic + rows {
                            tile.run(row: i, rows: min(tileRows, ic + rows - i))
                            i += tileRows
                        }
                    }
                }
            }
        }
    }

    /// Copies w[depth, columns] (row stride ldw) into a depth × 16 panel, zero-padding the columns.
    @inline(__always)
    private static func pack(
        _ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, ldw: Int, depth: Int, columns: Int
    ) {
        if columns == tileColumns {
            for p in 0..<depth {
                let s = src + p * ldw, d = dst + p * tileColumns
                VectorMath.store(VectorMath.load(s), d)
                VectorMath.store(VectorMath.load(s + 8), d + 8)
            }
        } else {
            for p in 0..<depth {
                let s = src + p * ldw, d = dst + p * tileColumns
                for c in 0..<tileColumns { d[c] = c < columns ? s[c] : 0 }
            }
        }
    }

    /// One column panel of y for one packed depth block: the state the 6×16 tiles share.
    private struct Tile {
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
            if rows == tileRows && columns == tileColumns {
                if !first {
                    Gemm.kernel(a, ldx, panel, depth, c, ldy, c, ldy)
                } else if let bias {
                    Gemm.kernel(a, ldx, panel, depth, c, ldy, bias + column, 0)
                } else {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: tileColumns) { zero in
                        zero.initialize(repeating: 0)
                        Gemm.kernel(a, ldx, panel, depth, c, ldy, zero.baseAddress!, 0)
                    }
                }
                return
            }
            // A partial tile: run the full kernel on a local 6×16 copy (missing rows of x repeat row 0,
            // missing columns are zero in the panel), then copy back the part that exists. Every real
            // element still gets exactly the operations it would get in a full tile.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: tileRows * tileColumns) { buffer in
                let t = buffer.baseAddress!
                for r in 0..<tileRows {
                    for col in 0..<tileColumns {
                        var v: Float = 0
                        if r < rows && col < columns {
                            v = first ? (bias?[column + col] ?? 0) : c[r * ldy + col]
                        }
                        t[r * tileColumns + col] = v
                    }
                }
                Gemm.kernelRows(a, ldx, rows, panel, depth, t)
                for r in 0..<rows {
                    for col in 0..<columns { c[r * ldy + col] = t[r * tileColumns + col] }
                }
            }
        }
    }

    /// c[6, 16] = cInit[6, 16] + a[6, depth] · panel[depth, 16], accumulated in registers.
    ///
    /// Rows of `a` are `lda` apart; rows of `c` and `cInit` are `ldc` and `ldInit` apart (0 repeats
    /// one row, as for a bias). `panel` is packed: 16 floats per step of depth.
    @inline(never)
    static func kernel(
        _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>, _ depth: Int,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cInit: UnsafePointer<Float>, _ ldInit: Int
    ) {
        kernelBody(a, a + lda, a + 2 * lda, a + 3 * lda, a + 4 * lda, a + 5 * lda,
                   panel, depth, c, ldc, cInit, ldInit)
    }

    /// The 6×16 kernel into a local tile `t` [6, 16] for `rows` (1…6) rows: rows past the end reuse row 0.
    @inline(never)
    static func kernelRows(
        _ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ panel: UnsafePointer<Float>, _ depth: Int,
        _ t: UnsafeMutablePointer<Float>
    ) {
        func row(_ r: Int) -> UnsafePointer<Float> { r < rows ? a + r * lda : a }
        kernelBody(row(0), row(1), row(2), row(3), row(4), row(5), panel, depth, t, tileColumns, t, tileColumns)
    }

    @inline(__always)
    private static func kernelBody(
        _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
        _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
        _ panel: UnsafePointer<Float>, _ depth: Int,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cInit: UnsafePointer<Float>, _ ldInit: Int
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        var c00 = load(cInit), c01 = load(cInit + 8)
        var c10 = load(cInit + ldInit), c11 = load(cInit + ldInit + 8)
        var c20 = load(cInit + 2 * ldInit), c21 = load(cInit + 2 * ldInit + 8)
        var c30 = load(cInit + 3 * ldInit), c31 = load(cInit + 3 * ldInit + 8)
        var c40 = load(cInit + 4 * ldInit), c41 = load(cInit + 4 * ldInit + 8)
        var c50 = load(cInit + 5 * ldInit), c51 = load(cInit + 5 * ldInit + 8)
        var b = panel
        for p in 0..<depth {
            let b0 = load(b), b1 = load(b + 8)
            var s = V(repeating: a0[p])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V(repeating: a1[p])
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V(repeating: a2[p])
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V(repeating: a3[p])
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V(repeating: a4[p])
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V(repeating: a5[p])
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            b += 16
        }
        let store = VectorMath.store
        store(c00, c); store(c01, c + 8)
        store(c10, c + ldc); store(c11, c + ldc + 8)
        store(c20, c + 2 * ldc); store(c21, c + 2 * ldc + 8)
        store(c30, c + 3 * ldc); store(c31, c + 3 * ldc + 8)
        store(c40, c + 4 * ldc); store(c41, c + 4 * ldc + 8)
        store(c50, c + 5 * ldc); store(c51, c + 5 * ldc + 8)
    }
}
