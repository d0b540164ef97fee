/// The matrix products with weights kept in a `QuantizedFormat` (named apart from the float32 ones so
/// that unapplied references such as `kernels.matmul` stay unambiguous).
///
/// Decode (one row, and up to four) is bound by reading the weights from memory, so it reads the
/// narrow values directly and widens them in registers: float16 and bfloat16 halve the bytes read,
/// q8_0 takes 1.0625 bytes a weight. More rows are bound by arithmetic: blocks of the weights are
/// widened into scratch and the float32 micro-kernels run on them. Either way every output element is
/// computed by exactly the float32 kernel's operations on the widened weights, so a product equals,
/// bit for bit, `matmul` / `matmulTransposed` on `QuantizedReference.dequantize(w)`, and keeps their
/// guarantees: the same bits for any thread count, and a row the same alone or in a batch.
extension Kernels {
    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]) with w stored as `w.format` (w.rows = K, w.columns = N).
    ///
    /// w must be in column-major tile order. Up to four rows stream w once, split by 32-column blocks
    /// (each thread's tiles one run of memory); more rows use the blocked kernel on widened panels,
    /// split by columns or rows as `matmul` does.
    public func quantizedMatmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: QuantizedMatrix,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        precondition(w.rows == k && w.columns == n, "quantizedMatmul: weights are \(w.rows)×\(w.columns), not K×N = \(k)×\(n)")
        precondition(w.order == .columnMajor, "quantizedMatmul reads weights in column-major tile order")
        guard m > 0, n > 0, k >= 0 else { return }
        switch w.format {
        case .float16: quantizedMatmul(y, x, Float16Tiles(w), bias: bias, m: m, k: k, n: n)
        case .bfloat16: quantizedMatmul(y, x, BFloat16Tiles(w), bias: bias, m: m, k: k, n: n)
        case .q8_0: quantizedMatmul(y, x, Q8Tiles(w), bias: bias, m: m, k: k, n: n)
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) with w stored as `w.format` (w.rows = N, w.columns = K),
    /// split by rows of w, which must be in row-major tile order. Up to four rows widen w on the fly;
    /// more widen 64 rows of w at a time into scratch for the float32 dot-product tiles.
    public func quantizedMatmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: QuantizedMatrix,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        precondition(w.rows == n && w.columns == k, "quantizedMatmulTransposed: weights are \(w.rows)×\(w.columns), not N×K = \(n)×\(k)")
        precondition(w.order == .rowMajor, "quantizedMatmulTransposed reads weights in row-major tile order")
        guard m > 0, n > 0, k >= 0 else { return }
        switch w.format {
        case .float16: quantizedMatmulTransposed(y, x, Float16Tiles(w), bias: bias, m: m, k: k, n: n)
        case .bfloat16: quantizedMatmulTransposed(y, x, BFloat16Tiles(w), bias: bias, m: m, k: k, n: n)
        case .q8_0: quantizedMatmulTransposed(y, x, Q8Tiles(w), bias: bias, m: m, k: k, n: n)
        }
    }

    /// Pieces for a product that streams the weights once (M ≤ 4): four per thread when it is split at
    /// all. Such a call is short (≈ 0.1 ms for a decode matmul) and the thread that calls it starts
    /// tens of µs before the one it wakes; with more pieces than threads, whichever is running takes the
    /// next, instead of the early one idling at the end of its half.
    static func streamingPieces(_ pieces: Int) -> Int { pieces > 1 ? 4 * pieces : 1 }

    private func quantizedMatmul<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        let pieces = Parallel.pieces(threads: threads, work: m * k * n, minimumPerThread: minimumWork)
        if m <= Gemm.fewRowsLimit {
            let chunks = (n + QuantizedMatrix.blockSize - 1) / QuantizedMatrix.blockSize
            Parallel.split(units: chunks, pieces: Self.streamingPieces(pieces), threads: threads) { lower, upper in
                QuantizedGemm.streaming(y, ldy: n, x, ldx: k, w, bias: bias, m: m, k: k, n: n, chunks: lower, upper)
            }
            return
        }
        let panels = (n + Gemm.tileColumns - 1) / Gemm.tileColumns
        if panels >= 4 * pieces || m < 2 * pieces {
            Parallel.split(units: panels, pieces: pieces, threads: threads) { lower, upper in
                QuantizedGemm.blocked(y, ldy: n, x, ldx: k, w, bias: bias, m: m, k: k,
                                      columns: lower * Gemm.tileColumns, min(n, upper * Gemm.tileColumns))
            }
        } else {
            Parallel.split(units: m, pieces: pieces, threads: threads) { lower, upper in
                QuantizedGemm.blocked(y + lower * n, ldy: n, x + lower * k, ldx: k, w, bias: bias,
                                      m: upper - lower, k: k, columns: 0, n)
            }
        }
    }

    private func quantizedMatmulTransposed<W: QuantizedTiles>(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: W,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        let pieces = Parallel.pieces(threads: threads, work: m * k * n, minimumPerThread: minimumWork)
        Parallel.split(units: (n + 7) / 8, pieces: m <= 4 ? Self.streamingPieces(pieces) : pieces, threads: threads) { lower, upper in
            let j0 = lower * 8, j1 = min(n, upper * 8)
            if m == 1 {
                QuantizedDotProducts.vector(y, x, w, bias: bias, k: k, rows: j0, j1)
            } else if m <= 4 {
                QuantizedDotProducts.few(y, ldo: n, x, lda: k, w, bias: bias, m: m, k: k, rows: j0, j1)
            } else {
                QuantizedDotProducts.tiles(y, ldo: n, x, lda: k, w, bias: bias, m: m, k: k, rows: j0, j1)
            }
        }
    }
}
