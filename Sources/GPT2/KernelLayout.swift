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
        let release = isZeroCopy
        // The small tensors (biases, gains, wpe) stay views of these weights, which the result keeps.
        return replacingMatrices(dtype: dtype, keeping: [self], small: { $0 }, matrix: { t, isHead in
            let result: (WeightTensor, AnyObject)
            if isHead {
                let matrix = PackedMatrix(packingTransposeOf: t.pointer, rows: t.shape[0], columns: t.shape[1])
                result = (WeightTensor(key: t.key, packedTranspose: matrix), matrix)
            } else {
                let matrix = PackedMatrix(packing: t.pointer, rows: t.shape[0], columns: t.shape[1])
                result = (WeightTensor(key: t.key, packed: matrix), matrix)
            }
            if release { Self.releasePages(t.pointer, count: t.count) }
            return result
        })
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
