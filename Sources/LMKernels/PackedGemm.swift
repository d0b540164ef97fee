/// The matrix product y = x·w (+ bias) with w a `PackedMatrix`, single-threaded over a range of its
/// panels (16 output columns each); `Kernels.matmul(_:_:packed:…)` splits the panels or the rows.
///
/// Every output element gets exactly `Gemm`'s operations — bias (or 0), then one fused multiply-add
/// per p = 0, 1, …, K−1 in order — so the result is the same bits as `Gemm` on the unpacked matrix,
/// whatever M, the split or the path below.
enum PackedGemm {
    typealias V = SIMD16<Float>

    /// Most floats of x (M × K) the streaming path takes (384 KB: x stays in L2 while each panel goes by
    /// once); beyond, the blocked kernel keeps blocks of x in cache instead. Measured on 768 × 3072:
    /// streaming is 1.4× as fast at M = 8 and as fast at M = 128, where x is 384 KB.
    static let streamingFloats = 96 * 1024

    /// y[0, panels p0 ..< p1] = x[0, K] · w (+ bias) — decode: w is read once, one run of memory.
    ///
    /// - y: [N], x: [K]. Two panels at a time: two chains of fused multiply-adds in flight, each
    /// panel's 16 sums in one register for all of K.
    static func vector(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: PackedMatrix,
        bias: UnsafePointer<Float>?, panels p0: Int, _ p1: Int
    ) {
        let k = w.rows
        var p = p0
        while p &+ 2 <= p1 {
            var a = initial(bias, w, p), b = initial(bias, w, p &+ 1)
            let pa = w.panel(p), pb = pa + k &* 16
            var i = 0
            while i < k {
                let xi = V(repeating: x[i])
                a = a.addingProduct(xi, load(pa + i &* 16))
                b = b.addingProduct(xi, load(pb + i &* 16))
                i &+= 1
            }
            put(a, y, w, p)
            put(b, y, w, p &+ 1)
            p &+= 2
        }
        if p < p1 {
            var a = initial(bias, w, p)
            let pa = w.panel(p)
            for i in 0..<k { a = a.addingProduct(V(repeating: x[i]), load(pa + i &* 16)) }
            put(a, y, w, p)
        }
    }

    /// y[M, panels p0 ..< p1] = x[M, K] · w (+ bias) for a few rows: panel by panel, all of K deep,
    /// through `Gemm`'s 6×16 register tile, six rows at a time. Each panel comes from memory once, in
    /// order (one run of memory per thread); the passes for more rows read it again from cache.
    ///
    /// - y: [M, ldy], x: [M, ldx].
    static func streaming(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, _ w: PackedMatrix,
        bias: UnsafePointer<Float>?, m: Int, panels p0: Int, _ p1: Int
    ) {
        for p in p0..<p1 {
            let column = p &* 16
            Gemm.Tile(y: y, ldy: ldy, x: x, ldx: ldx, panel: w.panel(p), depth: w.rows, column: column,
                      columns: min(16, w.columns &- column), bias: bias, first: true)
                .run(rows: 0, m)
        }
    }

    /// y[M, panels p0 ..< p1] = x[M, K] · w (+ bias) for many rows: blocked for the caches, 6×16 tiles.
    ///
    /// - y: [M, ldy], x: [M, ldx].
    /// A block of 32 panels × `Gemm.blockDepth` rows of w (512 KB) stays in L2 while every block of
    /// `Gemm.blockRows` rows of x passes over it.
    static func blocked(
        _ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, _ w: PackedMatrix,
        bias: UnsafePointer<Float>?, m: Int, panels p0: Int, _ p1: Int
    ) {
        let k = w.rows
        guard m > 0, p1 > p0 else { return }
        if k == 0 {
            for i in 0..<m {
                for j in (p0 * 16)..<min(w.columns, p1 * 16) { y[i * ldy + j] = bias?[j] ?? 0 }
            }
            return
        }
        let blockPanels = Gemm.blockColumns / 16
        for pb in stride(from: p0, to: p1, by: blockPanels) {
            let pe = min(p1, pb + blockPanels)
            for pc in stride(from: 0, to: k, by: Gemm.blockDepth) {
                let depth = min(Gemm.blockDepth, k - pc)
                for ic in stride(from: 0, to: m, by: Gemm.blockRows) {
                    let rows = min(Gemm.blockRows, m - ic)
                    for p in pb..<pe {
                        let column = p * 16
                        Gemm.Tile(
                            y: y, ldy: ldy, x: x + pc, ldx: ldx, panel: w.panel(p) + pc * 16, depth: depth,
                            column: column, columns: min(16, w.columns - column),
                            bias: pc == 0 ? bias : nil, first: pc == 0)
                            .run(rows: ic, ic + rows)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    /// The bias (or zeros) of panel p's columns; lanes past N are 0.
    @inline(__always)
    private static func initial(_ bias: UnsafePointer<Float>?, _ w: PackedMatrix, _ p: Int) -> V {
        guard let bias else { return V() }
        let j = p &* 16, count = w.columns &- j
        if count >= 16 { return load(bias + j) }
        var v = V()
        for i in 0..<count { v[i] = bias[j &+ i] }
        return v
    }

    /// Stores panel p's sums as its columns of y.
    @inline(__always)
    private static func put(_ v: V, _ y: UnsafeMutablePointer<Float>, _ w: PackedMatrix, _ p: Int) {
        let j = p &* 16, count = w.columns &- j
        if count >= 16 {
            UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: V.self)
        } else {
            for i in 0..<count { y[j &+ i] = v[i] }
        }
    }
}

extension Kernels {
    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]) with w packed in panels (w.rows = K, w.columns = N).
    ///
    /// While x is small enough to stay in cache (`PackedGemm.streamingFloats`), w streams once, split by
    /// panels (several pieces per thread, claimed as threads come free); larger x uses the blocked
    /// kernel, split by panels when there are enough, else by rows.
    public func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, packed w: PackedMatrix,
        bias: UnsafePointer<Float>?, m: Int
    ) {
        let k = w.rows, n = w.columns, panels = w.panels
        guard m > 0, n > 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: m * k * n, minimumPerThread: minimumWork)
        if m == 1 {
            // Pieces of whole panel pairs, so that a piece boundary never splits a pair.
            let pairs = (panels + 1) / 2
            Parallel.split(units: pairs, pieces: Self.streamingPieces(pieces), threads: threads) { lower, upper in
                PackedGemm.vector(y, x, w, bias: bias, panels: 2 * lower, min(panels, 2 * upper))
            }
        } else if m * k <= PackedGemm.streamingFloats {
            Parallel.split(units: panels, pieces: Self.streamingPieces(pieces), threads: threads) { lower, upper in
                PackedGemm.streaming(y, ldy: n, x, ldx: k, w, bias: bias, m: m, panels: lower, upper)
            }
        } else if panels >= 4 * pieces || m < 2 * pieces {
            Parallel.split(units: panels, pieces: pieces, threads: threads) { lower, upper in
                PackedGemm.blocked(y, ldy: n, x, ldx: k, w, bias: bias, m: m, panels: lower, upper)
            }
        } else {
            Parallel.split(units: m, pieces: pieces, threads: threads) { lower, upper in
                PackedGemm.blocked(y + lower * n, ldy: n, x + lower * k, ldx: k, w, bias: bias,
                                   m: upper - lower, panels: 0, panels)
            }
        }
    }
}
