/// Causal multi-head attention for a range of (head, query block) work units; `Kernels.attention`
/// splits the units between threads. Layout as in `Reference.attention`.
///
/// Per head and block of queries: scores S = q·kᵀ by `DotProducts` (one product per visible key,
/// the same for one query or many), scaled, softmaxed per query over its visible keys and zero
/// beyond, then out = S·v by `Gemm` (a fused multiply-add chain over keys in order). A query's
/// output is therefore the same bits in a one-token decode step as in a prefill of many tokens.
enum Attention {
    /// Queries per block: a multiple of the 6-row product tile; bounds the masked waste to 24×24
    /// scores per block.
    static let queryBlock = 24

    /// How many work units `t` queries of `nHead` heads make (one per head and query block).
    static func units(t: Int, nHead: Int) -> Int {
        nHead * ((t + queryBlock - 1) / queryBlock)
    }

    /// Computes work units `lower ..< upper` (head-major: unit = head · blocks + block).
    ///
    /// - out: [T, nHead·headDim]; q: [T, qStride]; keys, values: [past + T, kvStride].
    static func run(
        units lower: Int, _ upper: Int,
        _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, qStride: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        t: Int, past: Int, nHead: Int, headDim: Int, scale: Float
    ) {
        let width = nHead * headDim
        let blocks = (t + queryBlock - 1) / queryBlock
        for unit in lower..<upper {
            let head = unit / blocks
            let first = (unit % blocks) * queryBlock
            let rows = min(queryBlock, t - first)
            let visible = past + first + rows  // keys seen by the block's last query
            let scores = ThreadScratch.floats(.attentionScores, count: rows * visible)
            let column = head * headDim
            // scores: [rows, visible]
            DotProducts.tiles(
                scores, ldo: visible, q + first * qStride + column, lda: qStride,
                keys + column, ldb: kvStride, bias: nil, m: rows, k: headDim, columns: 0, visible)
            for r in 0..<rows {
                let row = scores + r * visible
                let seen = past + first + r + 1
                for j in 0..<seen { row[j] *= scale }
                Elementwise.softmax(row, count: seen)
                (row + seen).update(repeating: 0, count: visible - seen)
            }
            let o = out + first * width + column
            if rows == 1 {
                Gemm.vector(o, scores, values + column, ldw: kvStride, bias: nil, k: visible, columns: 0, headDim)
            } else {
                Gemm.blocked(
                    o, ldy: width, scores, ldx: visible, values + column, ldw: kvStride, bias: nil,
                    m: rows, k: visible, columns: 0, headDim)
            }
        }
    }
}
