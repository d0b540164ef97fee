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
        case .packed(let w): matmul(y, x, packed: w, bias: bias, m: m)
        case .quantized(let q): quantizedMatmul(y, x, q, bias: bias, m: m, k: k, n: n)
        case .packedTransposed, .quantizedTransposed:
            // Only the head is stored so, and the model only uses it as x·wᵀ.
            GPT2Weights.withFloats(of: w) { matmul(y, x, $0, bias: bias, m: m, k: k, n: n) }
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) — the head's layout.
    func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: WeightTensor,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        switch w.storage {
        case .float32(let p): matmulTransposed(y, x, p, bias: bias, m: m, k: k, n: n)
        case .packedTransposed(let w): matmul(y, x, packed: w, bias: bias, m: m)
        case .packed:
            // Packed matrices are Conv1D weights, which the model only uses as x·w.
            GPT2Weights.withFloats(of: w) { matmulTransposed(y, x, $0, bias: bias, m: m, k: k, n: n) }
        case .quantized(let q): quantizedMatmulTransposed(y, x, q, bias: bias, m: m, k: k, n: n)
        case .quantizedTransposed(let q): quantizedMatmul(y, x, q, bias: bias, m: m, k: k, n: n)
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
        case .packed(let w):
            for j in 0..<w.columns { out[j] = w.value(row: r, column: j) }
        case .packedTransposed(let w):
            w.copyColumn(r, into: out)
        case .quantized(let q):
            q.dequantize(row: r, into: out)
        case .quantizedTransposed(let q):
            for c in 0..<q.rows { out[c] = q.value(row: c, column: r) }
        }
    }
}
