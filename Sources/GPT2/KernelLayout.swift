import Dispatch
import Foundation
import Glibc
import LMKernels

extension GPT2Weights {
    /// True when the float32 matrices are already laid out by `laidOutForKernels()`.
    public var isLaidOutForKernels: Bool {
        guard let first = layers.first else { return false }
        if case .packed = first.attnWeight.storage { return true }
        return false
    }

    /// These weights with the float32 matrices laid out the way the kernels read them fastest; the
    /// values are the same bits, so every product is too.
    ///
    /// Each block's four Conv1D matrices are packed in column panels (`PackedMatrix`), and the token
    /// embedding (the tied head; an untied lm_head too) is packed transposed, so that the head's
    /// x·wteᵀ is the same streaming product (a token's embedding is then a column of it: 768 reads
    /// 64 bytes apart). A decode step reads every one of these once; in panels, in 2 MB pages, each
    /// thread's share is one run of memory. When the weights were read in place from the file
    /// mapping, the mapped pages of the copied matrices are given back, so resident memory does not
    /// hold them twice. Narrower precisions (already tiled for their kernels) and weights already
    /// laid out are returned as they are.
    public func laidOutForKernels() -> GPT2Weights {
        guard precision == .float32, !isLaidOutForKernels, !layers.isEmpty else { return self }
        let tied = Self.sameMemory(lmHead, wte)
        let heads: [WeightTensor] = tied ? [wte] : [wte, lmHead]
        let panels = layers.flatMap { [$0.attnWeight, $0.attnProjWeight, $0.fcWeight, $0.mlpProjWeight] }

        // The matrices are independent: lay them out on every core, largest first.
        var results = [(tensor: WeightTensor, owner: AnyObject)?](repeating: nil, count: heads.count + panels.count)
        let lock = NSLock()
        let order = results.indices.sorted {
            ($0 < heads.count ? heads[$0].count : panels[$0 - heads.count].count)
                > ($1 < heads.count ? heads[$1].count : panels[$1 - heads.count].count)
        }
        let release = isZeroCopy
        DispatchQueue.concurrentPerform(iterations: results.count) { i in
            let job = order[i]
            let result: (WeightTensor, AnyObject)
            if job < heads.count {
                let t = heads[job]
                let matrix = PackedMatrix(packingTransposeOf: t.pointer, rows: t.shape[0], columns: t.shape[1])
                result = (WeightTensor(key: t.key, packedTranspose: matrix), matrix)
                if release { Self.releasePages(t.pointer, count: t.count) }
            } else {
                let t = panels[job - heads.count]
                let matrix = PackedMatrix(packing: t.pointer, rows: t.shape[0], columns: t.shape[1])
                result = (WeightTensor(key: t.key, packed: matrix), matrix)
                if release { Self.releasePages(t.pointer, count: t.count) }
            }
            lock.lock(); results[job] = result; lock.unlock()
        }
        let done = results.map { $0! }
        let newWte = done[0].tensor
        let newHead = tied ? newWte : done[1].tensor
        var packed = done[heads.count...].map(\.tensor)[...]
        let newLayers = layers.map { layer in
            GPT2LayerWeights(
                ln1Weight: layer.ln1Weight, ln1Bias: layer.ln1Bias,
                attnWeight: packed.removeFirst(), attnBias: layer.attnBias,
                attnProjWeight: packed.removeFirst(), attnProjBias: layer.attnProjBias,
                ln2Weight: layer.ln2Weight, ln2Bias: layer.ln2Bias,
                fcWeight: packed.removeFirst(), fcBias: layer.fcBias,
                mlpProjWeight: packed.removeFirst(), mlpProjBias: layer.mlpProjBias)
        }
        // The small tensors (biases, gains, wpe) are still views of these weights: keep them alive.
        return GPT2Weights(
            config: config, wte: newWte, wpe: wpe, layers: newLayers, lnfWeight: lnfWeight, lnfBias: lnfBias,
            lmHead: newHead, dtype: dtype, isZeroCopy: false, source: source,
            owners: [self] + done.map(\.owner))
    }

    /// Drops the resident pages wholly inside `pointer[count]` from this process's mapping of a file.
    /// Only for memory mapped from a file: the data stays in the file and would be read again on access.
    private static func releasePages(_ pointer: UnsafePointer<Float>, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: pointer) + page - 1) / page * page
        let end = (Int(bitPattern: pointer) + count * MemoryLayout<Float>.stride) / page * page
        guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(address, end - start, MADV_DONTNEED)
    }
}
