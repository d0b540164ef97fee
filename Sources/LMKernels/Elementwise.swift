import Foundation

/// The row-wise and element-wise kernels, eight lanes at a time, single-threaded over the range
/// they are given; `Kernels` splits rows or chunks between threads.
///
/// Each element's result depends only on its row (layerNorm, softmax) or on itself (activate,
/// add), never on where a thread's range starts: partial vectors are padded, not done by a
/// different scalar formula.
enum Elementwise {
    typealias V = SIMD8<Float>

    /// y[rows, N] = (x − mean) / sqrt(var + eps) · gamma + beta per row, two passes as the reference.
    ///
    /// - y, x: [rows, n] (may alias); gamma, beta: [n].
    static func layerNorm(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, n: Int, eps: Float
    ) {
        guard n > 0 else { return }
        let full = n & ~7, rest = n - full
        for r in 0..<rows {
            let row = x + r * n, out = y + r * n
            var sum8 = V()
            var j = 0
            while j < full { sum8 += VectorMath.load(row + j); j += 8 }
            if rest > 0 { sum8 += VectorMath.loadPartial(row + full, count: rest) }
            let mean = VectorMath.sum(sum8) / Float(n)
            let mean8 = V(repeating: mean)
            var square8 = V()
            j = 0
            while j < full {
                let d = VectorMath.load(row + j) - mean8
                square8 = square8.addingProduct(d, d)
                j += 8
            }
            if rest > 0 {
                let d = VectorMath.loadPartial(row + full, count: rest, fill: mean) - mean8
                square8 = square8.addingProduct(d, d)
            }
            let variance = VectorMath.sum(square8) / Float(n)
            let inv = V(repeating: 1 / (variance + eps).squareRoot())
            j = 0
            while j < full {
                let v = (VectorMath.load(row + j) - mean8) * inv * VectorMath.load(gamma + j) + VectorMath.load(beta + j)
                VectorMath.store(v, out + j)
                j += 8
            }
            if rest > 0 {
                let v = (VectorMath.loadPartial(row + full, count: rest) - mean8) * inv
                    * VectorMath.loadPartial(gamma + full, count: rest) + VectorMath.loadPartial(beta + full, count: rest)
                VectorMath.storePartial(v, out + full, count: rest)
            }
        }
    }

    /// x[count] = kind(x[count]), in place.
    static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ kind: Activation) {
        switch kind {
        case .geluNew: map(x, count: count, geluNew)
        case .gelu: map(x, count: count, gelu)
        case .relu: map(x, count: count, relu)
        }
    }

    /// y[count] += x[count].
    static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            VectorMath.store(VectorMath.load(y + i) + VectorMath.load(x + i), y + i)
            i += 8
        }
        while i < count { y[i] += x[i]; i += 1 }
    }

    /// x[count] = softmax(x[count]) in place: max subtracted, vectorised exp, scaled by 1/sum.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let full = count & ~7, rest = count - full
        let top = V(repeating: rowMax(x, count: count).max)
        // Two-level sum (blocks of 512 added into a running total) keeps a long row's sum within a
        // few ulps instead of letting each lane's rounding error grow with the row length.
        var sum8 = V()
        var i = 0
        while i < full {
            var block = V()
            let end = min(full, i + 512)
            while i < end {
                let e = VectorMath.exp(VectorMath.load(x + i) - top)
                VectorMath.store(e, x + i)
                block += e
                i += 8
            }
            sum8 += block
        }
        if rest > 0 {
            // Padding lanes are −inf, so they add e^−inf = 0.
            let e = VectorMath.exp(VectorMath.loadPartial(x + full, count: rest, fill: -.infinity) - top)
            VectorMath.storePartial(e, x + full, count: rest)
            sum8 += e
        }
        let inv = V(repeating: 1 / VectorMath.sum(sum8))
        i = 0
        while i < full {
            VectorMath.store(VectorMath.load(x + i) * inv, x + i)
            i += 8
        }
        if rest > 0 {
            VectorMath.storePartial(VectorMath.loadPartial(x + full, count: rest) * inv, x + full, count: rest)
        }
    }

    /// log Σ exp(x[i]) over x[count]: the max, then e^(x − max) by the vectorised exp, summed in
    /// double precision (blocks of 512 floats summed in float first), so a 50,257-way normaliser keeps
    /// float32 accuracy. NaN in, NaN out; all −inf gives −inf.
    static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Double {
        guard count > 0 else { return -.infinity }
        let full = count & ~7, rest = count - full
        let (top, nan) = rowMax(x, count: count)
        if nan { return .nan }
        guard top.isFinite else { return Double(top) }
        let top8 = V(repeating: top)
        var total = 0.0
        var i = 0
        while i < full {
            var block = V()
            let end = min(full, i + 512)
            while i < end {
                block += VectorMath.exp(VectorMath.load(x + i) - top8)
                i += 8
            }
            total += Double(VectorMath.sum(block))
        }
        if rest > 0 {
            total += Double(VectorMath.sum(VectorMath.exp(VectorMath.loadPartial(x + full, count: rest, fill: -.infinity) - top8)))
        }
        return Double(top) + Foundation.log(total)
    }

    /// The largest of x[count] (NaN ignored; −inf when there is nothing else) and whether any was NaN.
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, count: Int) -> (max: Float, hasNaN: Bool) {
        let full = count & ~7, rest = count - full
        var max8 = V(repeating: -.infinity)
        var nan = false
        var i = 0
        while i < full {
            let v = VectorMath.load(x + i)
            nan = nan || any(v .!= v)
            max8 = max8.replacing(with: v, where: v .> max8)
            i += 8
        }
        if rest > 0 {
            let v = VectorMath.loadPartial(x + full, count: rest, fill: -.infinity)
            nan = nan || any(v .!= v)
            max8 = max8.replacing(with: v, where: v .> max8)
        }
        return (VectorMath.max(max8), nan)
    }

    /// Applies `f` to x[count] eight lanes at a time (the last partial vector padded with zeros).
    @inline(__always)
    private static func map(_ x: UnsafeMutablePointer<Float>, count: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= count {
            VectorMath.store(f(VectorMath.load(x + i)), x + i)
            i += 8
        }
        if i < count {
            VectorMath.storePartial(f(VectorMath.loadPartial(x + i, count: count - i)), x + i, count: count - i)
        }
    }

    /// gelu_new: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x·sigmoid(2u),
    /// which is the same function without the cancellation of 1 + tanh(u) for negative x.
    @inline(__always)
    static func geluNew(_ x: V) -> V {
        let c: Float = 0.797_884_560_802_865_4
        // The reference's own order of operations for u, so both see the same argument.
        let u = c * (x + 0.044715 * x * x * x)
        return x / (1 + VectorMath.exp(-2 * u))
    }

    /// gelu: x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with Φ(x) = 1 − Q(x) on the right and Q(−x) on the
    /// left, so that the left tail keeps its relative precision.
    @inline(__always)
    static func gelu(_ x: V) -> V {
        let q = VectorMath.upperNormalTail(x.replacing(with: -x, where: x .< 0))
        return x * q.replacing(with: 1 - q, where: x .>= 0)
    }

    /// relu: x if x > 0, else 0 (NaN gives 0, as the reference's comparison does).
    @inline(__always)
    static func relu(_ x: V) -> V {
        x.replacing(with: 0, where: .!(x .> 0))
    }
}
