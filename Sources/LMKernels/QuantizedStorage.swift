import Glibc

/// Owns the memory of one `QuantizedMatrix`, converted from float32 when it is made. The matrix is a
/// view: keep this object alive (`withExtendedLifetime`) for as long as the matrix is used.
///
/// float16 and bfloat16 round each weight to nearest (ties to even). q8_0 gives each block of 32
/// weights of a row the scale d = max|w| / 127 rounded to float16, and each weight round(w / d)
/// clamped to −127 … 127, so that the block's largest weight maps to ±127. Non-finite weights never
/// trap: NaN becomes 0 and infinities saturate (checkpoints do not contain them in practice).
public final class QuantizedStorage: @unchecked Sendable {
    /// The matrix this storage holds.
    public let matrix: QuantizedMatrix
    private let raw: UnsafeMutableRawPointer

    /// Converts `source[rows, columns]` (row-major float32) to `format`, in tiles in `order`.
    public init(converting source: UnsafePointer<Float>, rows: Int, columns: Int, format: QuantizedFormat,
                order: QuantizedTileOrder) {
        precondition(rows >= 0 && columns >= 0, "QuantizedStorage: negative shape \(rows)×\(columns)")
        let tiles = QuantizedMatrix.tileCount(rows: rows, columns: columns)
        let valueBytes = tiles * QuantizedMatrix.tileSize * format.valueBytes
        // Scales start on a 64-byte boundary after the values.
        let scaleOffset = (valueBytes + 63) & ~63
        let scaleBytes = format == .q8_0 ? tiles * QuantizedMatrix.tileRows * 2 : 0
        let bytes = max(64, scaleOffset + scaleBytes)
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, bytes) == 0, let memory else {
            // Out of memory at load: nothing sensible is left to do.
            fatalError("LMKernels: cannot allocate \(bytes) bytes for a \(rows)×\(columns) \(format.rawValue) matrix")
        }
        memset(memory, 0, bytes)  // the padding of partial tiles is zero
        raw = memory
        let scales = format == .q8_0 ? (memory + scaleOffset).bindMemory(to: UInt16.self, capacity: scaleBytes / 2) : nil
        matrix = QuantizedMatrix(format: format, order: order, rows: rows, columns: columns,
                                 values: UnsafeRawPointer(memory), scales: scales.map { UnsafePointer($0) })
        let m = matrix
        // One block (up to 32 columns of one row) at a time, converted into `block` and then placed
        // value by value where the tile layout puts it.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: QuantizedMatrix.blockSize) { buffer in
            let block = buffer.baseAddress!
            let halves = memory.assumingMemoryBound(to: UInt16.self), bytes = memory.assumingMemoryBound(to: Int8.self)
            for r in 0..<rows {
                for c in stride(from: 0, to: columns, by: QuantizedMatrix.blockSize) {
                    let count = min(QuantizedMatrix.blockSize, columns - c)
                    let src = source + r * columns + c
                    switch format {
                    case .float16, .bfloat16:
                        if format == .float16 {
                            HalfPrecision.convertToHalf(src, block, count: count)
                        } else {
                            HalfPrecision.convertToBFloat16(src, block, count: count)
                        }
                        for o in 0..<count { halves[m.index(row: r, column: c + o)] = block[o] }
                    case .q8_0:
                        withUnsafeTemporaryAllocation(of: Int8.self, capacity: QuantizedMatrix.blockSize) { q in
                            scales.unsafelyUnwrapped[m.scaleIndex(row: r, column: c)] =
                                Self.quantizeBlock(src, count: count, into: q.baseAddress!)
                            for o in 0..<count { bytes[m.index(row: r, column: c + o)] = q[o] }
                        }
                    }
                }
            }
        }
    }

    deinit { free(raw) }

    /// Bytes held (values and scales, with padding).
    public var byteCount: Int { matrix.byteCount }

    /// q8_0 quantisation of one block of `count` ≤ 32 weights; returns the scale's float16 bits.
    static func quantizeBlock(_ w: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> UInt16 {
        var largest: Float = 0
        for c in 0..<count where abs(w[c]) > largest { largest = abs(w[c]) }  // NaN compares false
        // The scale actually stored (float16) is the one values are divided by, so that the rounding
        // of the scale is not compounded with that of the values.
        var scale = Float16(largest / 127)
        if !scale.isFinite { scale = .greatestFiniteMagnitude }
        let d = Float(scale)
        for c in 0..<count {
            let v = d > 0 ? (w[c] / d).rounded() : 0
            q[c] = v.isNaN ? 0 : Int8(max(-127, min(127, v)))
        }
        return scale.bitPattern
    }
}
