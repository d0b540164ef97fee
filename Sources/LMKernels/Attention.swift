import CacheHints

/// Causal multi-head attention for a range of heads; `Kernels.attention` splits the heads between
/// threads. Layout as in `Reference.attention`.
///
/// Per head and block of queries: scores S = q·kᵀ by `DotProducts` (one product per visible key,
/// the same for one query or many), scaled, softmaxed per query over its visible keys and zero
/// beyond, then out = S·v by `Gemm` (a fused multiply-add chain over keys in order). A query's
/// output is therefore the same bits in a one-token decode step as in a prefill of many tokens.
enum Attention {
    /// Queries per block: a multiple of the 6-row product tile; bounds the masked waste to 24×24
    /// scores per block.
    static let queryBlock = 24

    /// Computes heads `lower ..< upper`.
    ///
    /// - out: [T, nHead·headDim]; q: [T, qStride]; keys, values: row s of head h at
    ///   s·kvStride + h·kvHeadStride.
    static func run(
        heads lower: Int, _ upper: Int,
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int, kvHeadStride: Int,
        t: Int, past: Int, nHead: Int, headDim: Int, scale: Float
    ) {
        let width = nHead * headDim
        let positions = past + t
        for head in lower..<upper {
            let column = head * headDim
            // With several queries, each key row is read once per block of queries. Rows of one head
            // are short and `kvStride` apart — a stride that maps them onto a few L1 sets — so they
            // are first copied contiguous (the values used are the same, so results are too).
            var headQ = q + column, ldq = qStride
            var headK = keys + head * kvHeadStride, ldk = kvStride
            let headV = values + head * kvHeadStride
            if t > 1 {
                let copy = ThreadScratch.floats(.attentionHead, count: (t + positions) * headDim)
                for i in 0..<t { (copy + i * headDim).update(from: headQ + i * qStride, count: headDim) }
                headQ = UnsafePointer(copy)
                ldq = headDim
                if kvStride != headDim {
                    let copiedKeys = copy + t * headDim
                    for j in 0..<positions { (copiedKeys + j * headDim).update(from: headK + j * kvStride, count: headDim) }
                    headK = UnsafePointer(copiedKeys)
                    ldk = headDim
                }
            }
            if t == 1 && kvStride == headDim {
                decodeHead(out + column, q: headQ, keys: headK, values: headV, positions: positions, headDim: headDim, scale: scale)
                continue
            }
            for first in stride(from: 0, to: t, by: queryBlock) {
                let rows = min(queryBlock, t - first)
                let visible = past + first + rows  // keys seen by the block's last query
                let scores = ThreadScratch.floats(.attentionScores, count: rows * visible)
                // scores: [rows, visible]
                DotProducts.tiles(
                    scores, ldo: visible, headQ + first * ldq, lda: ldq,
                    headK, ldb: ldk, bias: nil, m: rows, k: headDim, columns: 0, visible)
                for r in 0..<rows {
                    let row = scores + r * visible
                    let seen = past + first + r + 1
                    for j in 0..<seen { row[j] *= scale }
                    Elementwise.softmax(row, count: seen)
                    (row + seen).update(repeating: 0, count: visible - seen)
                }
                let o = out + first * width + column
                if rows == 1 {
                    Gemm.vector(o, scores, headV, ldw: kvStride, bias: nil, k: visible, columns: 0, headDim)
                } else {
                    Gemm.blocked(
                        o, ldy: width, scores, ldx: visible, headV, ldw: kvStride, bias: nil,
                        m: rows, k: visible, columns: 0, headDim)
                }
            }
        }
    }

    /// Keys per step of `decodeHead` (8 rows of 64 floats are 2 KB), and how many steps ahead its keys
    /// are asked for: measured best of 8/16/32 × 1/2/4/8 on a decode step over 450 cached positions.
    static let decodeChunk = 8
    static let decodeLookahead = 4

    /// One query against one head's `positions` keys and values stored contiguously ([positions,
    /// headDim] each): a decode step. The same operations as the general path (so the same bits), with
    /// the keys asked for a few chunks ahead and each chunk's values while its keys are used: they come
    /// from memory (the weights read since the last step have evicted them), and one query does too
    /// little work per key for the hardware prefetchers alone to keep enough loads in flight.
    static func decodeHead(
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, positions: Int, headDim: Int, scale: Float
    ) {
        let rowBytes = headDim * MemoryLayout<Float>.stride
        func prefetch(_ base: UnsafePointer<Float>, rows r0: Int, _ r1: Int) {
            let start = UnsafeRawPointer(base + r0 * headDim), bytes = (min(r1, positions) - r0) * rowBytes
            var offset = 0
            while offset < bytes {
                cache_hint_prefetch(start + offset)
                offset += 64
            }
        }
        let chunk = decodeChunk, ahead = decodeLookahead
        prefetch(keys, rows: 0, min(positions, ahead * chunk))
        let scores = ThreadScratch.floats(.attentionScores, count: positions)
        var j = 0
        while j < positions {
            let end = min(positions, j + chunk)
            if end < positions { prefetch(keys, rows: min(positions, j + ahead * chunk), j + (ahead + 1) * chunk) }
            prefetch(values, rows: j, end)
            // scores[j ..< end] = q·keys[j ..< end]ᵀ
            DotProducts.tiles(scores, ldo: positions, q, lda: headDim, keys, ldb: headDim, bias: nil,
                              m: 1, k: headDim, columns: j, end)
            j = end
        }
        for i in 0..<positions { scores[i] *= scale }
        Elementwise.softmax(scores, count: positions)
        Gemm.vector(out, scores, values, ldw: headDim, bias: nil, k: positions, columns: 0, headDim)
    }
}
