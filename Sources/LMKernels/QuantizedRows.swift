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
/// Eight-value loads start at a column that is a multiple of 8, so they never straddle a q8_0 block
/// (32 columns); `factor` is the block's scale, fetched once and reused for the block's four loads.
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

/// float16 rows.
struct HalfRows: QuantizedRows {
    let base: UnsafePointer<UInt16>
    let columns: Int

    init(_ m: QuantizedMatrix) {
        base = m.values.assumingMemoryBound(to: UInt16.self)
        columns = m.columns
    }

    @inline(__always)
    func row(_ r: Int) -> HalfRow { HalfRow(p: base + r * columns) }
}

/// One float16 row.
struct HalfRow: QuantizedRow {
    let p: UnsafePointer<UInt16>
    @inline(__always) func factor(_ column: Int) -> SIMD8<Float> { SIMD8(repeating: 1) }
    @inline(__always) func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> { HalfPrecision.loadHalf8(p + column) }
    @inline(__always) func load1(_ column: Int) -> Float { HalfPrecision.float(half: p[column]) }
}

/// bfloat16 rows.
struct BFloat16Rows: QuantizedRows {
    let base: UnsafePointer<UInt16>
    let columns: Int

    init(_ m: QuantizedMatrix) {
        base = m.values.assumingMemoryBound(to: UInt16.self)
        columns = m.columns
    }

    @inline(__always)
    func row(_ r: Int) -> BFloat16Row { BFloat16Row(p: base + r * columns) }
}

/// One bfloat16 row.
struct BFloat16Row: QuantizedRow {
    let p: UnsafePointer<UInt16>
    @inline(__always) func factor(_ column: Int) -> SIMD8<Float> { SIMD8(repeating: 1) }
    @inline(__always) func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> { HalfPrecision.loadBFloat8(p + column) }
    @inline(__always) func load1(_ column: Int) -> Float { HalfPrecision.float(bfloat16: p[column]) }
}

/// q8_0 rows: int8 values and one float16 scale per 32 columns.
struct Q8Rows: QuantizedRows {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>
    let columns: Int
    let blocksPerRow: Int

    init(_ m: QuantizedMatrix) {
        values = m.values.assumingMemoryBound(to: Int8.self)
        scales = m.scales.unsafelyUnwrapped
        columns = m.columns
        blocksPerRow = m.blocksPerRow
    }

    @inline(__always)
    func row(_ r: Int) -> Q8Row { Q8Row(values: values + r * columns, scales: scales + r * blocksPerRow) }
}

/// One q8_0 row.
struct Q8Row: QuantizedRow {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>

    @inline(__always)
    func factor(_ column: Int) -> SIMD8<Float> {
        SIMD8(repeating: HalfPrecision.float(half: scales[column >> 5]))
    }

    @inline(__always)
    func load8(_ column: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> {
        factor * HalfPrecision.loadInt8(values + column)
    }

    @inline(__always)
    func load1(_ column: Int) -> Float {
        HalfPrecision.float(half: scales[column >> 5]) * Float(values[column])
    }
}
