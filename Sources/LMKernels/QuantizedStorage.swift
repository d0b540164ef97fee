import Glibc

/// Owns the memory of one `QuantizedMatrix`, converted from float32 when it is made.
///
/// float16 and bfloat16 round each weight to nearest (ties to even). q8_0 gives each block of 32
/// weights of a row the scale d = max|w| / 127 rounded to float16, and each weight round(w / d)
/// clamped to −127 … 127, so that the block's largest weight maps to ±127. Non-finite weights never
/// trap: NaN becomes 0 and infinities saturate (checkpoints do not contain them in practice).
public final class QuantizedStorage: @unchecked Sendable {
    /// The matrix this storage holds.
    public let matrix: QuantizedMatrix
    private let raw: UnsafeMutableRawPointer

    /// Converts `source[rows, columns]` (row-major float32) to `format`.
    public init(converting source: UnsafePointer<Float>, rows: Int, columns: Int, format: QuantizedFormat) {
        precondition(rows >= 0 && columns >= 0, "QuantizedStorage: negative shape \(rows)×\(columns)")
        let count = rows * columns
        let valueBytes = format == .q8_0 ? count : 2 * count
        // Scales start on a 64-byte boundary after the values.
        let scaleOffset = (valueBytes + 63) & ~63
        let scaleBytes = format == .q8_0 ? rows * QuantizedMatrix.blocks(columns) * 2 : 0
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, max(64, scaleOffset + scaleBytes)) == 0, let memory else {
            // Out of memory at load: nothing sensible is left to do.
            fatalError("LMKernels: cannot allocate \(scaleOffset + scaleBytes) bytes for a \(rows)×\(columns) \(format.rawValue) matrix")
        }
        raw = memory
        switch format {
        case .float16:
            HalfPrecision.convertToHalf(source, memory.bindMemory(to: UInt16.self, capacity: count), count: count)
            matrix = QuantizedMatrix(format: format, rows: rows, columns: columns, values: UnsafeRawPointer(memory), scales: nil)
        case .bfloat16:
            HalfPrecision.convertToBFloat16(source, memory.bindMemory(to: UInt16.self, capacity: count), count: count)
            matrix = QuantizedMatrix(format: format, rows: rows, columns: columns, values: UnsafeRawPointer(memory), scales: nil)
        case .q8_0:
            let values = memory.bindMemory(to: Int8.self, capacity: count)
            let scales = (memory + scaleOffset).bindMemory(to: UInt16.self, capacity: scaleBytes / 2)
            Self.quantizeQ8(source, rows: rows, columns: columns, values: values, scales: scales)
            matrix = QuantizedMatrix(format: format, rows: rows, columns: columns, values: UnsafeRawPointer(values),
                                     scales: UnsafePointer(scales))
        }
    }

    deinit { free(raw) }

    /// Bytes held (values and scales).
    public var byteCount: Int { matrix.byteCount }

    /// q8_0 quantisation of `source[rows, columns]`, block by block along each row.
    static func quantizeQ8(
        _ source: UnsafePointer<Float>, rows: Int, columns: Int,
        values: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<UInt16>
    ) {
        let blocks = QuantizedMatrix.blocks(columns)
        for r in 0..<rows {
            for b in 0..<blocks {
                let start = b * QuantizedMatrix.blockSize
                let end = min(columns, start + QuantizedMatrix.blockSize)
                let w = source + r * columns
                var largest: Float = 0
                for c in start..<end where abs(w[c]) > largest { largest = abs(w[c]) }  // NaN compares false
                // The scale actually stored (float16) is the one values are divided by, so that the
                // rounding of the scale is not compounded with that of the values.
                var scale = Float16(largest / 127)
                if !scale.isFinite { scale = .greatestFiniteMagnitude }
                scales[r * blocks + b] = scale.bitPattern
                let d = Float(scale)
                for c in start..<end {
                    let q = d > 0 ? (w[c] / d).rounded() : 0
                    values[r * columns + c] = q.isNaN ? 0 : Int8(max(-127, min(127, q)))
                }
            }
        }
    }
}
