import Foundation

/// The kernels the model runs: same contracts (and shape comments) as `Reference`, made fast.
///
/// An instance carries the number of threads the kernels may use; it is cheap to copy and safe to
/// share between threads. Work is split by output columns, rows or heads, and every output element
/// is computed by the same operations in the same order whatever the split, so results are the
/// same bits for any thread count (and a row of `matmul`/`matmulTransposed`, or a query of
/// `attention`, the same bits whether computed alone or in a batch). They differ from `Reference`
/// only by rounding: products are fused multiply-adds, dot products (`matmulTransposed`, attention
/// scores) and row sums are added in eight lanes, exp is a vectorised approximation good to about 1 ulp,
/// gelu_new is evaluated as x·sigmoid(2u) and gelu through erfc (both without the reference's
/// cancellation for negative x).
public struct Kernels: Sendable {
    /// How many threads one kernel call may use (at least 1).
    public let threads: Int

    /// Kernels that use `threads` threads (default: every core the machine reports).
    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.init(threads: threads, minimumWork: 1 << 18)
    }

    /// Below this many multiply-adds (or comparable steps) per thread a call is not split: a pool
    /// worker still spinning takes a job within a microsecond or so, but waking one that went to
    /// sleep costs some 10–20 µs, about what 2¹⁸ multiply-adds streaming weights from memory take.
    /// Tests set it to 1 to exercise the splits on small shapes.
    let minimumWork: Int

    init(threads: Int, minimumWork: Int) {
        self.threads = max(1, threads)
        self.minimumWork = max(1, minimumWork)
    }

    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]).
    ///
    /// One row (decode) and up to four rows stream w once, split by columns; more rows use the
    /// blocked, packed 6×16 kernel, split by columns when there are enough of them, else by rows.
    public func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        guard m > 0, n > 0, k >= 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: m * k * n, minimumPerThread: minimumWork)
        let panels = (n + Gemm.tileColumns - 1) / Gemm.tileColumns
        if m == 1 {
            Parallel.splitColumns(n: n, pieces: pieces, threads: threads, of: y) { j0, j1 in
                Gemm.vector(y, x, w, ldw: n, bias: bias, k: k, columns: j0, j1)
            }
        } else if m <= Gemm.fewRowsLimit {
            Parallel.splitColumns(n: n, pieces: pieces, threads: threads, of: y) { j0, j1 in
                Gemm.fewRows(y, ldy: n, x, ldx: k, w, ldw: n, bias: bias, m: m, k: k, columns: j0, j1)
            }
        } else if panels >= 4 * pieces || m < 2 * pieces {
            Parallel.split(units: panels, pieces: pieces, threads: threads) { lower, upper in
                Gemm.blocked(y, ldy: n, x, ldx: k, w, ldw: n, bias: bias, m: m, k: k,
                             columns: lower * Gemm.tileColumns, min(n, upper * Gemm.tileColumns))
            }
        } else {
            Parallel.split(units: m, pieces: pieces, threads: threads) { lower, upper in
                Gemm.blocked(y + lower * n, ldy: n, x + lower * k, ldx: k, w, ldw: n, bias: bias,
                             m: upper - lower, k: k, columns: 0, n)
            }
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]), split by rows of w.
    public func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        guard m > 0, n > 0, k >= 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: m * k * n, minimumPerThread: minimumWork)
        Parallel.split(units: (n + 7) / 8, pieces: pieces, threads: threads) { lower, upper in
            DotProducts.tiles(y, ldo: n, x, lda: k, w, ldb: k, bias: bias, m: m, k: k,
                              columns: lower * 8, min(n, upper * 8))
        }
    }

    /// y[R, N] = layerNorm(x[R, N]) · gamma[N] + beta[N]; y may alias x. Split by rows.
    public func layerNorm(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, n: Int, eps: Float
    ) {
        guard rows > 0, n > 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: rows * n * 4, minimumPerThread: minimumWork)
        Parallel.split(units: rows, pieces: pieces, threads: threads) { lower, upper in
            Elementwise.layerNorm(y + lower * n, x + lower * n, gamma: gamma, beta: beta,
                                  rows: upper - lower, n: n, eps: eps)
        }
    }

    /// x[count] = activation(x[count]), in place. Split in whole vectors of 8.
    public func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ kind: Activation) {
        guard count > 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: count * 16, minimumPerThread: minimumWork)
        Parallel.split(units: (count + 7) / 8, pieces: pieces, threads: threads) { lower, upper in
            Elementwise.activate(x + lower * 8, count: min(count, upper * 8) - lower * 8, kind)
        }
    }

    /// y[count] += x[count]. Split in whole vectors of 8.
    public func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let pieces = Parallel.pieces(threads: threads, work: count / 4, minimumPerThread: minimumWork)
        Parallel.split(units: (count + 7) / 8, pieces: pieces, threads: threads) { lower, upper in
            Elementwise.add(y + lower * 8, x + lower * 8, count: min(count, upper * 8) - lower * 8)
        }
    }

    /// log Σ exp(x[count]), accurate to float32 (one row: single-threaded); NaN if any is NaN.
    public func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Double {
        Elementwise.logSumExp(x, count: count)
    }

    /// x[count] = softmax(x[count]), in place (one row: single-threaded).
    public func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Elementwise.softmax(x, count: count)
    }

    /// Causal attention; see `Reference.attention` for the layout. out: [T, nHead*headDim].
    /// Split by heads.
    public func attention(
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, kvHeadStride: Int? = nil,
        t: Int, past: Int, nHead: Int, headDim: Int, scale: Float
    ) {
        guard t > 0, past >= 0, nHead > 0, headDim > 0 else { return }
        // Prefill attention works on keys and values it has just written (in cache): a multiply-add costs
        // about an eighth of one in a decode matmul, so it takes eight times as many to be worth a
        // thread. A decode step reads each cached key and value once, from memory (the weights read
        // since have evicted them), like a decode matmul reads its weights: count one step per value.
        let work = t == 1 ? nHead * (past + t) * headDim * 2 : nHead * t * (past + t) * headDim * 2 / 8
        let pieces = Parallel.pieces(threads: threads, work: work, minimumPerThread: minimumWork)
        Parallel.split(units: nHead, pieces: pieces, threads: threads) { lower, upper in
            Attention.run(
                heads: lower, upper, out, q: q, qStride: qStride, keys: keys, values: values,
                kvStride: kvStride, kvHeadStride: kvHeadStride ?? headDim, t: t, past: past, nHead: nHead,
                headDim: headDim, scale: scale)
        }
    }
}
