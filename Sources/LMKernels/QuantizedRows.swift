/// How the generic kernels read a `QuantizedMatrix`: a row at a time, eight widened values at once.
///
/// The kernels are written once over this protocol and specialised by the compiler for each format,
/// so each reader is a few inlined instructions: vcvtph2ps for float16, a zero-extend and shift for
/// bfloat16, a sign-extend, convert and multiply by the block's scale for q8_0.
protocol QuantizedRows {
    associatedtype Row: QuantizedRow
    /// The reader of row `r`.
    func row(_ r: Int) -> Row
}

/// One row of a `QuantizedMatrix`.
///
/// Eight-value loads start at a column that is a multiple of 8, so they never straddle a tile (32
/// columns, one q8_0 block); `factor` is the block's scale, fetched once and reused for the block's four loads.
protocol QuantizedRow {
    /// The scale of the block holding `column`, in every lane (1 for formats without scales).
    func factor(_ column: Int) -> SIMD8<Float>
    /// Values at `column ..< column + 8` (`column` a multiple of 8) given their block's `factor`.
    func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float>
    /// The value at `column`.
    func load1(_ column: Int) -> Float
}

extension QuantizedRow {
    /// out[columns] = the row's values.
    @inline(__always)
    func dequantize(into out: UnsafeMutablePointer<Float>, columns: Int) {
        var c = 0
        while c + 8 <= columns {
            VectorMath.store(load8(c, factor(c)), out + c)
            c += 8
        }
        while c < columns {
            out[c] = load1(c)
            c += 1
        }
    }
}

/// Where row r starts in a tiled matrix: its first tile's row (tiles of a row are `tileSize` apart).
@inline(__always)
private func rowStart(_ m: QuantizedMatrix, _ r: Int) -> Int {
    (r >> 3) * m.tilesPerRow * QuantizedMatrix.tileSize + (r & 7) * QuantizedMatrix.blockSize
}

/// The offset of `column` from its row's start: whole tiles, then the place within the tile's row.
@inline(__always)
private func offset(_ column: Int) -> Int { (column >> 5) * QuantizedMatrix.tileSize + (column & 31) }

/// float16 rows.
struct HalfRows: QuantizedRows {
    let matrix: QuantizedMatrix
    let base: UnsafePointer<UInt16>

    init(_ m: QuantizedMatrix) {
        matrix = m
        base = m.values.assumingMemoryBound(to: UInt16.self)
    }

    @inline(__always)
    func row(_ r: Int) -> HalfRow { HalfRow(p: base + rowStart(matrix, r)) }
}

/// One float16 row.
struct HalfRow: QuantizedRow {
    let p: UnsafePointer<UInt16>
    @inline(__always) func factor(_ column: Int) -> SIMD8<Float> { SIMD8(repeating: 1) }
    @inline(__always) func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> { HalfPrecision.loadHalf8(p + offset(column)) }
    @inline(__always) func load1(_ column: Int) -> Float { HalfPrecision.float(half: p[offset(column)]) }
}

/// bfloat16 rows.
struct BFloat16Rows: QuantizedRows {
    let matrix: QuantizedMatrix
    let base: UnsafePointer<UInt16>

    init(_ m: QuantizedMatrix) {
        matrix = m
        base = m.values.assumingMemoryBound(to: UInt16.self)
    }

    @inline(__always)
    func row(_ r: Int) -> BFloat16Row { BFloat16Row(p: base + rowStart(matrix, r)) }
}

/// One bfloat16 row.
struct BFloat16Row: QuantizedRow {
    let p: UnsafePointer<UInt16>
    @inline(__always) func factor(_ column: Int) -> SIMD8<Float> { SIMD8(repeating: 1) }
    @inline(__always) func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> { HalfPrecision.loadBFloat8(p + offset(column)) }
    @inline(__always) func load1(_ column: Int) -> Float { HalfPrecision.float(bfloat16: p[offset(column)]) }
}

/// q8_0 rows: int8 values and one float16 scale per 32 columns.
struct Q8Rows: QuantizedRows {
    let matrix: QuantizedMatrix
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>

    init(_ m: QuantizedMatrix) {
        matrix = m
        values = m.values.assumingMemoryBound(to: Int8.self)
        scales = m.scales.unsafelyUnwrapped
    }

    @inline(__always)
    func row(_ r: Int) -> Q8Row {
        Q8Row(values: values + rowStart(matrix, r),
              scales: scales + (r >> 3) * matrix.tilesPerRow * QuantizedMatrix.tileRows + (r & 7))
    }
}

/// One q8_0 row: `scales` is its scale in its first tile; the next tile's is 8 further.
struct Q8Row: QuantizedRow {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>

    @inline(__always)
    func factor(_ column: Int) -> SIMD8<Float> {
        SIMD8(repeating: HalfPrecision.float(half: scales[(column >> 5) * QuantizedMatrix.tileRows]))
    }

    @inline(__always)
    func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> {
        factor * HalfPrecision.loadInt8(values + offset(column))
    }

    @inline(__always)
    func load1(_ column: Int) -> Float {
        HalfPrecision.float(half: scales[(column >> 5) * QuantizedMatrix.tileRows]) * Float(values[offset(column)])
    }
}
