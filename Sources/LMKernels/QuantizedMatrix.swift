/// The formats a weight matrix can be kept in with fewer bits than float32.
public enum QuantizedFormat: String, Sendable, CaseIterable {
    /// IEEE binary16: 2 bytes a weight, 11 significant bits, range ±65504.
    case float16
    /// bfloat16: 2 bytes a weight, float32's range with 8 significant bits.
    case bfloat16
    /// Blocks of 32 consecutive weights of a row stored as int8 sharing one float16 scale
    /// (34 bytes a block, 1.0625 bytes a weight); the weight is scale × int8, in −127 … 127.
    case q8_0

    /// Bytes a stored value takes.
    var valueBytes: Int { self == .q8_0 ? 1 : 2 }

    /// Bytes a [rows, columns] matrix takes in this format, with the padding of its tiles.
    public func byteCount(rows: Int, columns: Int) -> Int {
        let tiles = QuantizedMatrix.tileCount(rows: rows, columns: columns)
        return tiles * QuantizedMatrix.tileSize * valueBytes + (self == .q8_0 ? tiles * QuantizedMatrix.tileRows * 2 : 0)
    }
}

/// The order of a `QuantizedMatrix`'s tiles, chosen for the product that reads it.
public enum QuantizedTileOrder: String, Sendable {
    /// Row group by row group (each left to right): for y = x·wᵀ with w [N, K], where one output reads
    /// a row of w (`Kernels.quantizedMatmulTransposed`).
    case rowMajor
    /// Column block by column block (each top to bottom): for y = x·w with w [K, N], where 32 outputs
    /// read 32 columns of w (`Kernels.quantizedMatmul`).
    case columnMajor
}

/// A read-only weight matrix [rows, columns] in a `QuantizedFormat`, laid out in tiles.
///
/// A tile holds rows 8g ..< 8g+8 and columns 32c ..< 32c+32 (one q8_0 block per row) as four slabs of
/// eight columns, each slab row by row: (r, o) is at 64·(o / 8) + 8·r + o % 8 in the tile (bfloat16
/// pairs rows within a slab: see `offset`). Tiles follow
/// `order`; rows and columns are padded with zeros to whole tiles. q8_0 `scales` follow the tiles, the
/// 8 rows' scales of a tile together. Why tiles: a decode product reads 8 rows by 32 columns of the
/// matrix at a time; in this layout, in either order, those reads are one ascending sequential stream
/// (per thread), whereas rows of a few hundred bytes read side by side are too short for the hardware
/// prefetchers.
///
/// A view: `QuantizedStorage` owns the memory and must outlive it. The value every kernel multiplies
/// by is `value(row:column:)`: the float16 or bfloat16 widened (exact), or for q8_0 the block's scale
/// times the int8 (also exact in float32: an 11-bit significand times a 7-bit integer). So a product
/// with this matrix is, bit for bit, the float32 product with `QuantizedReference.dequantize(self)`.
public struct QuantizedMatrix: @unchecked Sendable {
    /// Weights per q8_0 block: the columns of a tile.
    public static let blockSize = 32
    /// Rows of a tile.
    public static let tileRows = 8
    /// Values in a tile.
    static let tileSize = tileRows * blockSize
    /// Values in a slab (8 rows × 8 columns) of a tile.
    static let slabSize = tileRows * 8

    /// The storage format.
    public let format: QuantizedFormat
    /// The order of the tiles.
    public let order: QuantizedTileOrder
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// The tiles' values: float16 or bfloat16 bit patterns (UInt16), or Int8 for q8_0.
    public let values: UnsafeRawPointer
    /// q8_0 only: float16 scales (bit patterns), 8 per tile in tile order; nil otherwise.
    public let scales: UnsafePointer<UInt16>?

    /// A view of memory laid out as described above; the caller keeps it alive. q8_0 needs `scales`.
    public init(
        format: QuantizedFormat, order: QuantizedTileOrder, rows: Int, columns: Int,
        values: UnsafeRawPointer, scales: UnsafePointer<UInt16>?
    ) {
        precondition(rows >= 0 && columns >= 0, "QuantizedMatrix: negative shape \(rows)×\(columns)")
        precondition(format != .q8_0 || scales != nil, "QuantizedMatrix: q8_0 needs scales")
        self.format = format
        self.order = order
        self.rows = rows
        self.columns = columns
        self.values = values
        self.scales = scales
    }

    /// Number of tiles of a [rows, columns] matrix.
    static func tileCount(rows: Int, columns: Int) -> Int {
        ((rows + tileRows - 1) / tileRows) * ((columns + blockSize - 1) / blockSize)
    }

    /// Tiles across a row: ⌈columns / 32⌉.
    public var tilesPerRow: Int { (columns + Self.blockSize - 1) / Self.blockSize }
    /// Row groups: ⌈rows / 8⌉.
    public var rowGroups: Int { (rows + Self.tileRows - 1) / Self.tileRows }

    /// Bytes the values and scales take (with padding).
    public var byteCount: Int { format.byteCount(rows: rows, columns: columns) }

    /// Tile (group, chunk)'s index: how many tiles precede it.
    @inline(__always)
    func tileIndex(group: Int, chunk: Int) -> Int {
        order == .rowMajor ? group &* tilesPerRow &+ chunk : chunk &* rowGroups &+ group
    }

    /// Index of (row, column) in `values`.
    @inline(__always)
    func index(row: Int, column: Int) -> Int {
        tileIndex(group: row &>> 3, chunk: column &>> 5) &* Self.tileSize &+ Self.offset(format, row & 7, column & 31)
    }

    /// Where (r, o) is within a tile: slab o / 8, then row r, column o % 8 of the slab — except that
    /// bfloat16 slabs interleave rows in pairs (rows 2q and 2q+1 alternate, column by column), so that
    /// one 32-byte load holds eight values of both rows, each widened by a single shift or mask.
    @inline(__always)
    static func offset(_ format: QuantizedFormat, _ r: Int, _ o: Int) -> Int {
        let slab = (o &>> 3) &* slabSize
        return format == .bfloat16 ? slab &+ (r &>> 1) &* 16 &+ (o & 7) &* 2 &+ (r & 1) : slab &+ r &* 8 &+ (o & 7)
    }

    /// Index in `scales` of the scale of (row, column) (q8_0).
    @inline(__always)
    func scaleIndex(row: Int, column: Int) -> Int {
        tileIndex(group: row &>> 3, chunk: column &>> 5) &* Self.tileRows &+ (row & 7)
    }

    /// The weight at (row, column) as the kernels use it.
    public func value(row: Int, column: Int) -> Float {
        let i = index(row: row, column: column)
        switch format {
        case .float16:
            return HalfPrecision.float(half: values.assumingMemoryBound(to: UInt16.self)[i])
        case .bfloat16:
            return HalfPrecision.float(bfloat16: values.assumingMemoryBound(to: UInt16.self)[i])
        case .q8_0:
            let scale = HalfPrecision.float(half: scales.unsafelyUnwrapped[scaleIndex(row: row, column: column)])
            return scale * Float(values.assumingMemoryBound(to: Int8.self)[i])
        }
    }

    /// out[columns] = row `row`, as floats (the same values `value(row:column:)` gives).
    public func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        switch format {
        case .float16: Float16Tiles(self).dequantize(row: row, into: out, columns: columns)
        case .bfloat16: BFloat16Tiles(self).dequantize(row: row, into: out, columns: columns)
        case .q8_0: Q8Tiles(self).dequantize(row: row, into: out, columns: columns)
        }
    }
}
