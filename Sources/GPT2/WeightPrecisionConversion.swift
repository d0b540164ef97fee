import Foundation
import LMKernels
import SafeTensors

extension GPT2Weights {
    /// The precision the matrices the matmuls read are stored in (the head's; `converted(to:)` stores
    /// them all alike).
    public var precision: WeightPrecision { lmHead.precision }

    /// These weights with every matrix a matmul reads — each block's c_attn, attn.c_proj, mlp.c_fc and
    /// mlp.c_proj, and the token embedding (the tied head; an untied lm_head too) — stored in
    /// `precision`. The token lookup reads its row of the converted embedding, widened.
    ///
    /// LayerNorm gains and biases, biases and the position embedding stay float32; they are copied, so
    /// the result owns all its memory and these weights (and their file mapping) may be released.
    /// `dtype` becomes the precision's name. When the matrices are already stored so, nothing is
    /// copied: the result is self, or (when `dtype` named the checkpoint's own type, as an F16 file's
    /// "float16" for its exact float32 copy) a view of the same memory with `dtype` renamed.
    public func converted(to precision: WeightPrecision) -> GPT2Weights {
        let matrices = [wte, lmHead] + layers.flatMap { [$0.attnWeight, $0.attnProjWeight, $0.fcWeight, $0.mlpProjWeight] }
        if matrices.allSatisfy({ $0.precision == precision }) {
            if dtype == precision.rawValue { return self }
            return GPT2Weights(
                config: config, wte: wte, wpe: wpe, layers: layers, lnfWeight: lnfWeight, lnfBias: lnfBias,
                lmHead: lmHead, dtype: precision.rawValue, isZeroCopy: isZeroCopy, source: source, owners: [self])
        }

        let small = [wpe, lnfWeight, lnfBias] + layers.flatMap {
            [$0.ln1Weight, $0.ln1Bias, $0.attnBias, $0.attnProjBias, $0.ln2Weight, $0.ln2Bias, $0.fcBias, $0.mlpProjBias]
        }
        let buffer = FloatBuffer(count: small.reduce(0) { $0 + $1.count })
        var offset = 0
        // The blocks' matrices are read as x·w; the head (and embedding) is kept transposed so that its
        // x·wᵀ is the same product, with the same order of operations as the float32 head's.
        return replacingMatrices(dtype: precision.rawValue, keeping: [buffer], small: { t in
            let dst = buffer.pointer + offset
            offset += t.count
            Self.withFloats(of: t) { dst.update(from: $0, count: t.count) }
            return WeightTensor(key: t.key, shape: t.shape, pointer: UnsafePointer(dst))
        }, matrix: { t, isHead in
            Self.convert(t, to: precision, transposed: isHead)
        })
    }

    /// These weights with every matrix a matmul reads (the head once when tied) replaced by
    /// `matrix(t, isHead)`, run on every core, largest first, and every other tensor by `small`, called
    /// in turn on this thread. The result keeps `keeping` and each new matrix's owner alive.
    func replacingMatrices(
        dtype newDtype: String, keeping: [AnyObject], small: (WeightTensor) -> WeightTensor,
        matrix: (WeightTensor, _ isHead: Bool) -> (WeightTensor, AnyObject)
    ) -> GPT2Weights {
        let tied = Self.sameMemory(lmHead, wte)
        var jobs: [(WeightTensor, Bool)] = [(wte, true)]
        if !tied { jobs.append((lmHead, true)) }
        for layer in layers {
            jobs += [layer.attnWeight, layer.attnProjWeight, layer.fcWeight, layer.mlpProjWeight].map { ($0, false) }
        }
        // The matrices are independent; largest first, so that none is left to run alone at the end.
        var done = [(WeightTensor, AnyObject)?](repeating: nil, count: jobs.count)
        let lock = NSLock()
        let order = jobs.indices.sorted { jobs[$0].0.count > jobs[$1].0.count }
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            let job = order[i]
            let result = matrix(jobs[job].0, jobs[job].1)
            lock.lock(); done[job] = result; lock.unlock()
        }
        var results = done.map { $0!.0 }[...]
        let newWte = results.removeFirst()
        let newHead = tied ? newWte : results.removeFirst()
        let newLayers = layers.map { layer in
            GPT2LayerWeights(
                ln1Weight: small(layer.ln1Weight), ln1Bias: small(layer.ln1Bias),
                attnWeight: results.removeFirst(), attnBias: small(layer.attnBias),
                attnProjWeight: results.removeFirst(), attnProjBias: small(layer.attnProjBias),
                ln2Weight: small(layer.ln2Weight), ln2Bias: small(layer.ln2Bias),
                fcWeight: results.removeFirst(), fcBias: small(layer.fcBias),
                mlpProjWeight: results.removeFirst(), mlpProjBias: small(layer.mlpProjBias))
        }
        return GPT2Weights(
            config: config, wte: newWte, wpe: small(wpe), layers: newLayers,
            lnfWeight: small(lnfWeight), lnfBias: small(lnfBias), lmHead: newHead,
            dtype: newDtype, isZeroCopy: false, source: source, owners: keeping + done.map { $0!.1 })
    }

    /// One matrix in `precision`, and the object that owns its memory; `transposed` keeps a [N, K] head
    /// as its transpose (column-major tiles), a Conv1D matrix stays as it is.
    static func convert(_ t: WeightTensor, to precision: WeightPrecision, transposed: Bool) -> (WeightTensor, AnyObject) {
        let rows = t.shape.first ?? 0, columns = rows == 0 ? 0 : t.count / rows
        return withFloats(of: t) { source in
            guard let format = precision.format else {
                let floats = FloatBuffer(count: t.count)
                floats.pointer.update(from: source, count: t.count)
                return (WeightTensor(key: t.key, shape: t.shape, pointer: UnsafePointer(floats.pointer)), floats)
            }
            guard transposed else {
                let storage = QuantizedStorage(converting: source, rows: rows, columns: columns, format: format, order: .columnMajor)
                return (WeightTensor(key: t.key, matrix: storage.matrix), storage)
            }
            let flipped = FloatBuffer(count: t.count)
            for r in 0..<rows {
                for c in 0..<columns { flipped.pointer[c * rows + r] = source[r * columns + c] }
            }
            let storage = QuantizedStorage(converting: flipped.pointer, rows: columns, columns: rows, format: format, order: .columnMajor)
            return (WeightTensor(key: t.key, quantizedTranspose: storage.matrix), storage)
        }
    }

    /// Calls `body` with t's values as float32: in place, or widened into a temporary buffer.
    static func withFloats<R>(of t: WeightTensor, _ body: (UnsafePointer<Float>) -> R) -> R {
        switch t.storage {
        case .float32(let p):
            return body(p)
        case .packed(let m):
            let floats = FloatBuffer(count: t.count)
            m.unpack(into: floats.pointer)
            return body(floats.pointer)
        case .packedTransposed(let m):
            let floats = FloatBuffer(count: t.count)
            for j in 0..<m.columns { m.copyColumn(j, into: floats.pointer + j * m.rows) }
            return body(floats.pointer)
        case .quantizedTransposed(let m):
            let floats = FloatBuffer(count: t.count)
            for r in 0..<m.rows {
                for c in 0..<m.columns { floats.pointer[c * m.rows + r] = m.value(row: r, column: c) }
            }
            return body(floats.pointer)
        case .quantized(let m):
            let floats = FloatBuffer(count: t.count)
            for r in 0..<m.rows { m.dequantize(row: r, into: floats.pointer + r * m.columns) }
            return body(floats.pointer)
        }
    }

    /// Whether two tensors are views of the same memory (a tied head).
    static func sameMemory(_ a: WeightTensor, _ b: WeightTensor) -> Bool {
        switch (a.storage, b.storage) {
        case let (.float32(p), .float32(q)): return p == q
        case let (.quantized(p), .quantized(q)), let (.quantizedTransposed(p), .quantizedTransposed(q)): return p.values == q.values
        case let (.packed(p), .packed(q)), let (.packedTransposed(p), .packedTransposed(q)): return p === q
        default: return false
        }
    }
}

extension GPT2LayerWeights {
    /// A block from its twelve tensors.
    init(
        ln1Weight: WeightTensor, ln1Bias: WeightTensor, attnWeight: WeightTensor, attnBias: WeightTensor,
        attnProjWeight: WeightTensor, attnProjBias: WeightTensor, ln2Weight: WeightTensor, ln2Bias: WeightTensor,
        fcWeight: WeightTensor, fcBias: WeightTensor, mlpProjWeight: WeightTensor, mlpProjBias: WeightTensor
    ) {
        self.ln1Weight = ln1Weight; self.ln1Bias = ln1Bias
        self.attnWeight = attnWeight; self.attnBias = attnBias
        self.attnProjWeight = attnProjWeight; self.attnProjBias = attnProjBias
        self.ln2Weight = ln2Weight; self.ln2Bias = ln2Bias
        self.fcWeight = fcWeight; self.fcBias = fcBias
        self.mlpProjWeight = mlpProjWeight; self.mlpProjBias = mlpProjBias
    }
}

extension GPT2Weights {
    /// These weights with their matrices stored as the checkpoint stored them, when that is narrower than
    /// float32 and loses nothing: a float16 or bfloat16 checkpoint's float32 copies converted back to
    /// that precision (same values, half the bytes to read per token). Nil when the checkpoint was
    /// float32 or anything else, or when some matrix would not convert exactly (it is checked).
    public func exactlyNarrowed() -> GPT2Weights? {
        guard let native = WeightPrecision(name: dtype), native == .float16 || native == .bfloat16,
              precision == .float32 else { return nil }
        let narrow = converted(to: native)
        let pairs = [(wte, narrow.wte), (lmHead, narrow.lmHead)] + zip(layers, narrow.layers).flatMap { a, b in
            [(a.attnWeight, b.attnWeight), (a.attnProjWeight, b.attnProjWeight), (a.fcWeight, b.fcWeight), (a.mlpProjWeight, b.mlpProjWeight)]
        }
        for (original, converted) in pairs {
            // Row by row of the stored matrix (no widened copy of all of it): row r of a head kept
            // transposed is column r of the original.
            let matrix: QuantizedMatrix, transposed: Bool
            switch converted.storage {
            case .quantized(let m): (matrix, transposed) = (m, false)
            case .quantizedTransposed(let m): (matrix, transposed) = (m, true)
            default: return nil
            }
            let exact = Self.withFloats(of: original) { source in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, matrix.columns)) { row in
                    for r in 0..<matrix.rows {
                        matrix.dequantize(row: r, into: row.baseAddress!)
                        for c in 0..<matrix.columns {
                            let value = source[transposed ? c * matrix.rows + r : r * matrix.columns + c]
                            // NaN payloads aside, a difference means the value did not fit.
                            if row[c].bitPattern != value.bitPattern && !(row[c].isNaN && value.isNaN) { return false }
                        }
                    }
                    return true
                }
            }
            if !exact { return nil }
        }
        return narrow
    }
}
