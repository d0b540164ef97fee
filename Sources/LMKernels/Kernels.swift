import Foundation

/// The kernels the model runs: same contracts (and shape comments) as `Reference`, made fast.
///
/// An instance carries the number of threads the kernels may use; it is cheap to copy and safe to
/// share between threads.
public struct Kernels: Sendable {
    /// How many threads one kernel call may use (at least 1).
    public let threads: Int

    /// Kernels that use `threads` threads (default: every core the machine reports).
    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.threads = max(1, threads)
    }

    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]).
    public func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        Reference.matmul(y, x, w, bias: bias, m: m, k: k, n: n)
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]).
    public func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        Reference.matmulTransposed(y, x, w, bias: bias, m: m, k: k, n: n)
    }

    /// y[R, N] = layerNorm(x[R, N]) · gamma[N] + beta[N]; y may alias x.
    public func layerNorm(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, n: Int, eps: Float
    ) {
        Reference.layerNorm(y, x, gamma: gamma, beta: beta, rows: rows, n: n, eps: eps)
    }

    /// x[count] = activation(x[count]), in place.
    public func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ kind: Activation) {
        Reference.activate(x, count: count, kind)
    }

    /// y[count] += x[count].
    public func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        Reference.add(y, x, count: count)
    }

    /// x[count] = softmax(x[count]), in place.
    public func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Reference.softmax(x, count: count)
    }

    /// Causal attention; see `Reference.attention` for the layout. out: [T, nHead*headDim].
    public func attention(
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        t: Int, past: Int, nHead: Int, headDim: Int, scale: Float
    ) {
        Reference.attention(
            out, q: q, qStride: qStride, keys: keys, values: values, kvStride: kvStride,
            t: t, past: past, nHead: nHead, headDim: headDim, scale: scale)
    }
}
