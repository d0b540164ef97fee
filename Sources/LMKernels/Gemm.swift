/// The matrix product y = x·w (+ bias) with w stored K×N row-major (Conv1D layout), single-threaded
/// over a range of output columns; `Kernels` splits the columns (or rows) between threads.
///
/// Every output element is `bias[j]` (or 0) followed by one fused multiply-add per p = 0, 1, …, K−1,
/// in that order — the Reference's order, each step rounded once instead of twice. All three paths
/// below and all tile shapes keep it, so results are the same bits whatever the split, the tile an element
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
    /// Rows of x per pass over a packed block (96 rows × 256 of x: 96 KB, stays in L2).
    static let blockRows = 96

    /// y[0, j0 ..< j1] = x[0, K] · w[K, j0 ..< j1] (+ bias): one row, streaming w once.
    ///
    /// - y: [N] (row of the output), x: [K], w: [K, ldw], bias: [N] or nil.
    /// Several rows of w are applied per sweep over the columns, with y in L1: w is read in that
    /// many sequential streams. Measured on Zen 4, 8 streams serve long rows best and 16 short ones
    /// (slices of ≤ 1024 columns), where 8 streams end too soon for the prefetchers to keep up.
    static func vector(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, ldw: Int,
        bias: UnsafePointer<Float>?, k: Int, columns j0: Int, _ j1: Int
    ) {
        if let bias {
            (y + j0).update(from: bias + j0, count: j1 - j0)
        } else {
            (y + j0).update(repeating: 0, count: j1 - j0)
        }
        var p = 0
        if j1 - j0 <= 1024 {
            while p + 16 <= k {
                sweep(y, x + p, w + p * ldw, ldw: ldw, rows: 16, columns: j0, j1)
                p += 16
            }
        }
        while p + 8 <= k {
            sweep8(y, x + p, w + p * ldw, ldw: ldw, columns: j0, j1)
            p += 8
        }
        while p < k {
            sweep(y, x + p, w + p * ldw, ldw: ldw, rows: 1, columns: j0, j1)
            p += 1
        }
    }

    /// `sweep` for 8 rows with x's values held in registers (the compiler cannot hoist them itself:
    /// for all it knows, storing to y could change x).
    @inline(__always)
    private static func sweep8(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, ldw: Int,
        columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        let x0 = V(repeating: x[0]), x1 = V(repeating: x[1]), x2 = V(repeating: x[2]), x3 = V(repeating: x[3])
        let x4 = V(repeating: x[4]), x5 = V(repeating: x[5]), x6 = V(repeating: x[6]), x7 = V(repeating: x[7])
        let w0 = w, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw
        let w4 = w3 + ldw, w5 = w4 + ldw, w6 = w5 + ldw, w7 = w6 + ldw
        var j = j0
        while j + 16 <= j1 {
            var a = VectorMath.load(y + j)
            var b = VectorMath.load(y + j + 8)
            a = a.addingProduct(x0, VectorMath.load(w0 + j)); b = b.addingProduct(x0, VectorMath.load(w0 + j + 8))
            a = a.addingProduct(x1, VectorMath.load(w1 + j)); b = b.addingProduct(x1, VectorMath.load(w1 + j + 8))
            a = a.addingProduct(x2, VectorMath.load(w2 + j)); b = b.addingProduct(x2, VectorMath.load(w2 + j + 8))
            a = a.addingProduct(x3, VectorMath.load(w3 + j)); b = b.addingProduct(x3, VectorMath.load(w3 + j + 8))
            a = a.addingProduct(x4, VectorMath.load(w4 + j)); b = b.addingProduct(x4, VectorMath.load(w4 + j + 8))
            a = a.addingProduct(x5, VectorMath.load(w5 + j)); b = b.addingProduct(x5, VectorMath.load(w5 + j + 8))
            a = a.addingProduct(x6, VectorMath.load(w6 + j)); b = b.addingProduct(x6, VectorMath.load(w6 + j + 8))
            a = a.addingProduct(x7, VectorMath.load(w7 + j)); b = b.addingProduct(x7, VectorMath.load(w7 + j + 8))
            VectorMath.store(a, y + j)
            VectorMath.store(b, y + j + 8)
            j += 16
        }
        if j < j1 { sweep(y, x, w, ldw: ldw, rows: 8, columns: j, j1) }
    }

    /// y[j0 ..< j1] += x[0 ..< rows] · w[rows, j0 ..< j1], one fused multiply-add per row in order.
    @inline(__always)
    private static func sweep(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, ldw: Int,
        rows: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        var j = j0
        while j + 16 <= j1 {
            var a = VectorMath.load(y + j)
            var b = VectorMath.load(y + j + 8)
            var row = w + j
            for q in 0..<rows {
                let xq = V(repeating: x[q])
                a = a.addingProduct(xq, VectorMath.load(row))
                b = b.addingProduct(xq, VectorMath.load(row + 8))
                row += ldw
            }
            VectorMath.store(a, y + j)
            VectorMath.store(b, y + j + 8)
            j += 16
        }
        while j < j1 {
            var a = y[j]
            for q in 0..<rows { a = a.addingProduct(x[q], w[q * ldw + j]) }
            y[j] = a
            j += 1
        }
    }

    /// Most rows `fewRows` takes; more are worth packing w for the blocked kernel.
    static let fewRowsLimit = 4

    /// y[M, j0 ..< j1] = x[M, K] · w[K, j0 ..< j1] (+ bias) for M ≤ 4 rows, streaming w once.
    ///
    /// - y: [M, ldy], x: [M, ldx], w: [K, ldw], bias: [N] or nil.
    /// As `vector`, four rows of w per sweep, each eight-column slice of them applied to every row of
    /// y while in registers; cheaper than packing w when it would serve so few rows.
    static func fewRows(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int,
        _ w: UnsafePointer<Float>, ldw: Int, bias: UnsafePointer<Float>?,
        m: Int, k: Int, columns j0: Int, _ j1: Int
    ) {
        typealias V = SIMD8<Float>
        for r in 0..<m {
            if let bias {
                (y + r * ldy + j0).update(from: bias + j0, count: j1 - j0)
            } else {
                (y + r * ldy + j0).update(repeating: 0, count: j1 - j0)
            }
        }
        var p = 0
        while p < k {
            let depth = min(4, k - p)
            let w0 = w + p * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw
            var j = j0
            if depth == 4 {
                while j + 8 <= j1 {
                    let v0 = VectorMath.load(w0 + j), v1 = VectorMath.load(w1 + j)
                    let v2 = VectorMath.load(w2 + j), v3 = VectorMath.load(w3 + j)
                    for r in 0..<m {
                        let xr = x + r * ldx + p, yr = y + r * ldy + j
                        var a = VectorMath.load(yr)
                        a = a.addingProduct(V(repeating: xr[0]), v0)
                        a = a.addingProduct(V(repeating: xr[1]), v1)
                        a = a.addingProduct(V(repeating: xr[2]), v2)
                        a = a.addingProduct(V(repeating: xr[3]), v3)
                        VectorMath.store(a, yr)
                    }
                    j += 8
                }
            }
            // Leftover columns, and the last K mod 4 rows of w: one fused multiply-add at a time.
            while j < j1 {
                for r in 0..<m {
                    let xr = x + r * ldx + p
                    var a = y[r * ldy + j]
                    for q in 0..<depth { a = a.addingProduct(xr[q], w0[q * ldw + j]) }
                    y[r * ldy + j] = a
                }
                j += 1
            }
            p += depth
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
                pack(packed, w + pc * ldw + jc, ldw: ldw, depth: depth, columns: columns)
                for ic in stride(from: 0, to: m, by: blockRows) {
                    let rows = min(blockRows, m - ic)
                    for panel in 0..<panels {
                        let j = jc + panel * tileColumns
                        Tile(
                            y: y, ldy: ldy, x: x + pc, ldx: ldx, panel: packed + panel * depth * tileColumns,
                            depth: depth, column: j, columns: min(tileColumns, j1 - j),
                            bias: pc == 0 ? bias : nil, first: pc == 0)
                            .run(rows: ic, ic + rows)
                    }
                }
            }
        }
    }

    /// Copies w[depth, columns] (row stride ldw) into ⌈columns/16⌉ consecutive depth × 16 panels,
    /// zero-padding the last one. Rows of w are read in order, so the reads stream through memory
    /// (reading panel by panel would touch a new page on every row).
    @inline(__always)
    private static func pack(
        _ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, ldw: Int, depth: Int, columns: Int
    ) {
        let full = columns / tileColumns, rest = columns - full * tileColumns
        let panelSize = depth * tileColumns
        for p in 0..<depth {
            let s = src + p * ldw
            var d = dst + p * tileColumns
            for panel in 0..<full {
                let c = s + panel * tileColumns
                VectorMath.store(VectorMath.load(c), d)
                VectorMath.store(VectorMath.load(c + 8), d + 8)
                d += panelSize
            }
            if rest > 0 {
                let c = s + full * tileColumns
                for i in 0..<tileColumns { d[i] = i < rest ? c[i] : 0 }
            }
        }
    }

    /// One column panel of y for one packed depth block: the state the 6×16 tiles share (also used
    /// by `PackedGemm` and `QuantizedGemm`, whose panels have the same layout).
    struct Tile {
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

        /// Accumulates rows `lower ..< upper` of this panel, six at a time.
        @inline(__always)
        func run(rows lower: Int, _ upper: Int) {
            var i = lower
            while i < upper {
                run(row: i, rows: Swift.min(Gemm.tileRows, upper - i))
                i += Gemm.tileRows
            }
        }

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
        kernelBody(rows: 6, a, a + lda, a + 2 * lda, a + 3 * lda, a + 4 * lda, a + 5 * lda,
                   panel, depth, c, ldc, cInit, ldInit)
    }

    /// The kernel for `rows` (1…5) rows into a local tile `t` [6, 16] (rows past `rows` untouched): a
    /// batch of 8 decoding sequences is a full tile and a 2-row one, and computing 6 rows for those 2
    /// was a quarter of such a step.
    @inline(never)
    static func kernelRows(
        _ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ panel: UnsafePointer<Float>, _ depth: Int,
        _ t: UnsafeMutablePointer<Float>
    ) {
        func row(_ r: Int) -> UnsafePointer<Float> { r < rows ? a + r * lda : a }
        let (a0, a1, a2, a3, a4, a5) = (row(0), row(1), row(2), row(3), row(4), row(5))
        // Each case is the same body with its row count fixed, so the compiler drops the unused rows.
        switch rows {
        case 1: kernelBody(rows: 1, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        case 2: kernelBody(rows: 2, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        case 3: kernelBody(rows: 3, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        case 4: kernelBody(rows: 4, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        case 5: kernelBody(rows: 5, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        default: kernelBody(rows: 6, a0, a1, a2, a3, a4, a5, panel, depth, t, tileColumns, t, tileColumns)
        }
    }

    /// c[rows, 16] = cInit[rows, 16] + a[rows, depth] · panel[depth, 16] for the first `rows` of six
    /// row pointers; every element gets one fused multiply-add per step of depth, in order.
    @inline(__always)
    private static func kernelBody(
        rows: Int,
        _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
        _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
        _ panel: UnsafePointer<Float>, _ depth: Int,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cInit: UnsafePointer<Float>, _ ldInit: Int
    ) {
        typealias V = SIMD8<Float>
        let load = VectorMath.load
        var c00 = load(cInit), c01 = load(cInit + 8)
        var c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        if rows > 1 { c10 = load(cInit + ldInit); c11 = load(cInit + ldInit + 8) }
        if rows > 2 { c20 = load(cInit + 2 * ldInit); c21 = load(cInit + 2 * ldInit + 8) }
        if rows > 3 { c30 = load(cInit + 3 * ldInit); c31 = load(cInit + 3 * ldInit + 8) }
        if rows > 4 { c40 = load(cInit + 4 * ldInit); c41 = load(cInit + 4 * ldInit + 8) }
        if rows > 5 { c50 = load(cInit + 5 * ldInit); c51 = load(cInit + 5 * ldInit + 8) }
        var b = panel
        for p in 0..<depth {
            let b0 = load(b), b1 = load(b + 8)
            var s = V(repeating: a0[p])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            if rows > 1 { s = V(repeating: a1[p]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1) }
            if rows > 2 { s = V(repeating: a2[p]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1) }
            if rows > 3 { s = V(repeating: a3[p]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1) }
            if rows > 4 { s = V(repeating: a4[p]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1) }
            if rows > 5 { s = V(repeating: a5[p]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1) }
            b += 16
        }
        let store = VectorMath.store
        store(c00, c); store(c01, c + 8)
        if rows > 1 { store(c10, c + ldc); store(c11, c + ldc + 8) }
        if rows > 2 { store(c20, c + 2 * ldc); store(c21, c + 2 * ldc + 8) }
        if rows > 3 { store(c30, c + 3 * ldc); store(c31, c + 3 * ldc + 8) }
        if rows > 4 { store(c40, c + 4 * ldc); store(c41, c + 4 * ldc + 8) }
        if rows > 5 { store(c50, c + 5 * ldc); store(c51, c + 5 * ldc + 8) }
    }
}
