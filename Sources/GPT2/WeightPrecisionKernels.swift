import LMKernels

/// The matmuls on a `WeightTensor`, whatever precision it is stored in.
extension Kernels {
    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]) — the Conv1D layout.
    func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: WeightTensor,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        switch w.storage {
        case .float32(let p): matmul(y, x, p, bias: bias, m: m, k: k, n: n)
        case .quantized(let q): quantizedMatmul(y, x, q, bias: bias, m: m, k: k, n: n)
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) — the head's layout.
    func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: WeightTensor,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        switch w.storage {
        case .float32(let p): matmulTransposed(y, x, p, bias: bias, m: m, k: k, n: n)
        case .quantized(let q): quantizedMatmulTransposed(y, x, q, bias: bias, m: m, k: k, n: n)
        }
    }
}

extension WeightTensor {
    /// out[C] = row `r` of a [rows, C] tensor as float32 (an embedding lookup), widened if need be.
    func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float32(let p):
            let c = shape.count > 1 ? shape[1] : count
            out.update(from: p + r * c, count: c)
        case .quantized(let q):
            q.dequantize(row: r, into: out)
        }
    }
}
