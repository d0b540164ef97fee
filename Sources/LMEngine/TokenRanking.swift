import Foundation
import LMKernels

/// Ranking over a row of logits: the k largest, and log-softmax normalisers — what `topk` and
/// `logprobs` need, without sorting all 50,257 entries.
enum TokenRanking {
    /// Indices of the k largest values of logits[V], largest first; ties go to the lower id.
    static func top(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [Int] {
        let k = min(max(k, 0), logits.count)
        guard k > 0 else { return [] }
        if k == 1 { return [argmax(logits)] }
        if k * 16 >= logits.count {
            return Array(logits.indices.sorted { precedes($0, $1, logits) }.prefix(k))
        }
        // A sorted window of the best k so far; most entries fail the first comparison with its last.
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        func consider(_ i: Int) {
            if best.count == k, !precedes(i, best[k - 1], logits) { return }
            var lo = 0, hi = best.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if precedes(best[mid], i, logits) { lo = mid + 1 } else { hi = mid }
            }
            best.insert(i, at: lo)
            if best.count > k { best.removeLast() }
        }
        guard let base = logits.baseAddress else { return [] }
        var i = 0
        while i < logits.count && best.count < k {
            consider(i)
            i += 1
        }
        // Once the window is full, eight entries at a time: only an entry above the window's last can
        // enter it (one equal to it comes later, so has the higher id; NaN never enters a full window),
        // unless that last is NaN, which anything else beats.
        while i + 8 <= logits.count {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
            let last = logits[best[k - 1]]
            if last.isNaN || any(v .> SIMD8(repeating: last)) {
                for j in i..<(i + 8) { consider(j) }
            }
            i += 8
        }
        while i < logits.count {
            consider(i)
            i += 1
        }
        return best
    }

    /// The index `top(logits, k: 1)` gives: the largest logit, the lowest id among equals, NaN only when
    /// every logit is NaN (then 0). Greedy decoding asks this once per token, so it is vectorised: the
    /// largest value first, then its first index.
    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        guard let base = logits.baseAddress, !logits.isEmpty else { return 0 }
        var best8 = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= logits.count {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
            best8 = best8.replacing(with: v, where: v .> best8)  // NaN never compares greater
            i += 8
        }
        var best = best8.max()
        while i < logits.count {
            if logits[i] > best { best = logits[i] }
            i += 1
        }
        // −inf may be the largest (or everything NaN): the first index holding it, else 0.
        return logits.firstIndex { $0 == best } ?? 0
    }

    /// Whether index a ranks before index b: the larger logit first, NaN last, the lower id on ties.
    @inline(__always)
    static func precedes(_ a: Int, _ b: Int, _ x: UnsafeBufferPointer<Float>) -> Bool {
        let va = x[a], vb = x[b]
        if va.isNaN { return false }
        if vb.isNaN { return true }
        return va > vb || (va == vb && a < b)
    }

    /// log Σ exp(x) over the whole row with float32 accuracy (vectorised exp, sums in Double), so that
    /// probabilities of a 50,257-way softmax are right to a few float ulps. NaN if any logit is NaN.
    static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> Double {
        guard let base = logits.baseAddress else { return -.infinity }
        return Kernels(threads: 1).logSumExp(base, count: logits.count)
    }
}
