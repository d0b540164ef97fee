/// The formats a weight matrix can be kept in with fewer bits than float32.
public enum QuantizedFormat: String, Sendable, CaseIterable {
    /// IEEE binary16: 2 bytes a weight, 11 significant bits, range ±65504.
    case float16
    /// bfloat16: 2 bytes a weight, float32's range with 8 significant bits.
    case bfloat16
    /// Blocks of 32 consecutive weights of a row stored as int8 sharing one float16 scale
    /// (34 bytes a block, 1.0625 bytes a weight); the weight is scale × int8, in −127 … 127.
    case q8_0

    /// Bytes one matrix of `rows × columns` weights takes in this format.
    public func byteCount(rows: Int, columns: Int) -> Int {
        switch self {
        case .float16, .bfloat16: return rows * columns * 2
        case .q8_0: return rows * columns + rows * QuantizedMatrix.blocks(columns) * 2
        }
    }
}

/// A read-only weight matrix [rows, columns], row-major, in a `QuantizedFormat`.
///
/// A view: `QuantizedStorage` owns the memory and must outlive it. The value every kernel multiplies
/// by is `value(row:column:)`: the float16 or bfloat16 widened (exact), or for q8_0 the block's scale
/// times the int8 (also exact in float32: an 11-bit significand times a 7-bit integer). So a product
/// with this matrix is, bit for bit, the float32 product with `QuantizedReference.dequantize(self)`.
/// q8_0 blocks run along rows (the contiguous direction): columns 32b ..< 32b + 32 of a row share a
/// scale, and the last block of a row may be shorter.
public struct QuantizedMatrix: @unchecked Sendable {
    /// Weights per q8_0 block.
    public static let blockSize = 32

    /// The storage format.
    public let format: QuantizedFormat
    /// Number of rows.
    public let rows: Int
    /// Number of columns (the contiguous dimension).
    public let columns: Int
    /// rows × columns stored values: float16 or bfloat16 bit patterns (UInt16), or Int8 for q8_0.
    public let values: UnsafeRawPointer
    /// q8_0 only: rows × `blocksPerRow` float16 scales (bit patterns), row-major; nil otherwise.
    public let scales: UnsafePointer<UInt16>?

    /// A view of memory laid out as described above; the caller keeps it alive. q8_0 needs `scales`.
    public init(format: QuantizedFormat, rows: Int, columns: Int, values: UnsafeRawPointer, scales: UnsafePointer<UInt16>?) {
        precondition(rows >= 0 && columns >= 0, "QuantizedMatrix: negative shape \(rows)×\(columns)")
        precondition(format != .q8_0 || scales != nil, "QuantizedMatrix: q8_0 needs scales")
        self.format = format
        self.rows = rows
        self.columns = columns
        self.values = values
        self.scales = scales
    }

    /// Number of q8_0 blocks a row of `columns` weights is cut into.
    @inline(__always)
    static func blocks(_ columns: Int) -> Int { (columns + blockSize - 1) / blockSize }

    /// Scales per row (q8_0).
    public var blocksPerRow: Int { Self.blocks(columns) }

    /// Bytes the values and scales take.
    public var byteCount: Int { format.byteCount(rows: rows, columns: columns) }

    /// The weight at (row, column) as the kernels use it.
    public func value(row: Int, column: Int) -> Float {
        let i = row * columns + column
        switch format {
        case .float16:
            return HalfPrecision.float(half: values.assumingMemoryBound(to: UInt16.self)[i])
        case .bfloat16:
            return HalfPrecision.float(bfloat16: values.assumingMemoryBound(to: UInt16.self)[i])
        case .q8_0:
            let scale = HalfPrecision.float(half: scales.unsafelyUnwrapped[row * blocksPerRow + column / Self.blockSize])
            return scale * Float(values.assumingMemoryBound(to: Int8.self)[i])
        }
    }

    /// out[columns] = row `row`, as floats (the same values `value(row:column:)` gives).
    public func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        func run<W: QuantizedRows>(_ w: W) { w.row(row).dequantize(into: out, columns: columns) }
        switch format {
        case .float16: run(HalfRows(self))
        case .bfloat16: run(BFloat16Rows(self))
        case .q8_0: run(Q8Rows(self))
        }
    }
}
