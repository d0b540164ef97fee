import Foundation

/// Plain, obviously-correct kernels: the yardstick the fast kernels are tested against.
///
/// Every buffer is flat and row-major; the shape comment on each function is the contract.
/// Accumulation is in `Float` left to right, as a reader would write it.
public enum Reference {
    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]) — the Conv1D layout (weights stored in × out).
    public static func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = bias?[j] ?? 0
                for p in 0..<k { acc += x[i * k + p] * w[p * n + j] }
                y[i * n + j] = acc
            }
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) — the Linear layout (weights stored out × in), as the
    /// tied head uses the token embedding `wte[V, C]`.
    public static func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = bias?[j] ?? 0
                for p in 0..<k { acc += x[i * k + p] * w[j * k + p] }
                y[i * n + j] = acc
            }
        }
    }

    /// y[R, N] = (x[R, N] − mean) / sqrt(var + eps) · gamma[N] + beta[N], per row; y may alias x.
    public static func layerNorm(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, n: Int, eps: Float
    ) {
        for r in 0..<rows {
            let row = x + r * n
            var mean: Float = 0
            for j in 0..<n { mean += row[j] }
            mean /= Float(n)
            var variance: Float = 0
            for j in 0..<n { let d = row[j] - mean; variance += d * d }
            variance /= Float(n)
            let inv = 1 / (variance + eps).squareRoot()
            for j in 0..<n { y[r * n + j] = (row[j] - mean) * inv * gamma[j] + beta[j] }
        }
    }

    /// x[count] = activation(x[count]), in place.
    public static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ kind: Activation) {
        for i in 0..<count { x[i] = kind.apply(x[i]) }
    }

    /// y[count] += x[count] — the residual connection.
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// x[count] = softmax(x[count]), in place, with the max subtracted first for stability.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var mx = x[0]
        for i in 1..<count where x[i] > mx { mx = x[i] }
        var sum: Float = 0
        for i in 0..<count { x[i] = Foundation.exp(x[i] - mx); sum += x[i] }
        for i in 0..<count { x[i] /= sum }
    }

    /// Causal multi-head attention of T new queries against `past + T` cached keys and values.
    ///
    /// - q: [T, qStride], head h of row t at columns `h*headDim ..< (h+1)*headDim`
    /// - keys, values: row s (absolute position s) of head h at `s*kvStride + h*kvHeadStride`
    ///   (kvHeadStride defaults to headDim: heads side by side in a row, as in q)
    /// - out: [T, nHead*headDim]
    /// Query t (absolute position past + t) sees positions 0 ... past + t; scores are multiplied by `scale`.
    public static func attention(
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, kvHeadStride: Int? = nil,
        t: Int, past: Int, nHead: Int, headDim: Int, scale: Float
    ) {
        let headStride = kvHeadStride ?? headDim
        let width = nHead * headDim
        var scores = [Float](repeating: 0, count: past + t)
        scores.withUnsafeMutableBufferPointer { s in
            for i in 0..<t {
                let visible = past + i + 1
                for h in 0..<nHead {
                    let qi = q + i * qStride + h * headDim
                    for j in 0..<visible {
                        let kj = keys + j * kvStride + h * headStride
                        var dot: Float = 0
                        for d in 0..<headDim { dot += qi[d] * kj[d] }
                        s[j] = dot * scale
                    }
                    softmax(s.baseAddress!, count: visible)
                    let o = out + i * width + h * headDim
                    for d in 0..<headDim { o[d] = 0 }
                    for j in 0..<visible {
                        let vj = values + j * kvStride + h * headStride
                        for d in 0..<headDim { o[d] += s[j] * vj[d] }
                    }
                }
            }
        }
    }
}
