/// How the generic kernels read a `QuantizedMatrix`: a tile (8 rows × 32 columns) at a time, eight
/// widened values at once.
///
/// The kernels are written once over this protocol and specialised by the compiler for each format,
/// so each read is a few inlined instructions: vcvtph2ps for float16, a zero-extend and shift for
/// bfloat16, a sign-extend, convert and multiply by the row's scale for q8_0. Index arithmetic wraps
/// (`&+`, `&*`): it stays within the matrix for every shape the kernels accept, and overflow checks in
/// the innermost loops cost more than the loads.
protocol QuantizedTiles {
    associatedtype Tile: QuantizedTile
    /// Tile (group, chunk): rows 8·group ..< 8·group + 8, columns 32·chunk ..< 32·chunk + 32.
    func tile(_ group: Int, _ chunk: Int) -> Tile
}

/// Where (r, o) is within a float16 or q8_0 tile: slab o / 8, row r of it, column o % 8.
@inline(__always)
func slabOffset(_ r: Int, _ o: Int) -> Int { (o &>> 3) &* QuantizedMatrix.slabSize &+ r &* 8 &+ (o & 7) }

/// One tile of a `QuantizedMatrix`: rows r in 0 ..< 8, columns (offsets) o in 0 ..< 32.
protocol QuantizedTile {
    /// The eight rows' scales (all 1 for formats without scales).
    func factors() -> SIMD8<Float>
    /// Row r's scale.
    func factor(_ r: Int) -> Float
    /// Row r, offsets o ..< o + 8 (o a multiple of 8), given the row's scale in every lane.
    func load8(_ r: Int, _ o: Int, _ factor: SIMD8<Float>) -> SIMD8<Float>
    /// Row r at offset o.
    func load1(_ r: Int, _ o: Int) -> Float
}

extension QuantizedTiles {
    /// w[row, column ..< column + 8] (column a multiple of 8).
    @inline(__always)
    func load8(row: Int, column: Int) -> SIMD8<Float> {
        let t = tile(row &>> 3, column &>> 5), r = row & 7
        return t.load8(r, column & 31, SIMD8(repeating: t.factor(r)))
    }

    /// w[row, column].
    @inline(__always)
    func load1(row: Int, column: Int) -> Float { tile(row &>> 3, column &>> 5).load1(row & 7, column & 31) }

    /// out[columns] = row `row` (of a matrix `columns` wide), widened.
    @inline(__always)
    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>, columns: Int) {
        var c = 0
        while c &+ 8 <= columns {
            VectorMath.store(load8(row: row, column: c), out + c)
            c &+= 8
        }
        while c < columns {
            out[c] = load1(row: row, column: c)
            c &+= 1
        }
    }
}

/// Where tile (group, chunk) is: tiles before it = group · groupStride + chunk · chunkStride.
struct TileStrides {
    let group: Int, chunk: Int

    init(_ m: QuantizedMatrix) {
        (group, chunk) = m.order == .rowMajor ? (m.tilesPerRow, 1) : (1, m.rowGroups)
    }

    @inline(__always)
    func index(_ g: Int, _ c: Int) -> Int { g &* group &+ c &* chunk }
}

/// Tiles of 2-byte values (float16, bfloat16).
struct HalfTiles<Widen: HalfWidening>: QuantizedTiles {
    let base: UnsafePointer<UInt16>
    let strides: TileStrides

    init(_ m: QuantizedMatrix) {
        base = m.values.assumingMemoryBound(to: UInt16.self)
        strides = TileStrides(m)
    }

    @inline(__always)
    func tile(_ group: Int, _ chunk: Int) -> HalfTile<Widen> {
        HalfTile(p: base + strides.index(group, chunk) &* QuantizedMatrix.tileSize)
    }
}

/// How a tile of 2-byte values is laid out and widened.
protocol HalfWidening {
    /// Row r, offsets o ..< o + 8 (o a multiple of 8) of the tile at p.
    static func load8(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> SIMD8<Float>
    /// Row r at offset o of the tile at p.
    static func load1(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> Float
}

/// IEEE float16, slabs row by row.
enum Float16Widening: HalfWidening {
    @inline(__always)
    static func load8(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> SIMD8<Float> { HalfPrecision.loadHalf8(p + slabOffset(r, o)) }
    @inline(__always)
    static func load1(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> Float { HalfPrecision.float(half: p[slabOffset(r, o)]) }
}

/// bfloat16, slabs in row pairs: the 32 bytes of rows 2q and 2q+1 are eight 32-bit lanes holding row
/// 2q in their low halves and row 2q+1 in their high halves, so a row is one shift or one mask.
enum BFloat16Widening: HalfWidening {
    @inline(__always)
    static func load8(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> SIMD8<Float> {
        HalfPrecision.loadBFloat8(pair: p + ((o &>> 3) &* QuantizedMatrix.slabSize &+ (r &>> 1) &* 16), high: r & 1 == 1)
    }
    @inline(__always)
    static func load1(_ p: UnsafePointer<UInt16>, _ r: Int, _ o: Int) -> Float {
        HalfPrecision.float(bfloat16: p[QuantizedMatrix.offset(.bfloat16, r, o)])
    }
}

/// One tile of 2-byte values.
struct HalfTile<Widen: HalfWidening>: QuantizedTile {
    let p: UnsafePointer<UInt16>
    @inline(__always) func factors() -> SIMD8<Float> { SIMD8(repeating: 1) }
    @inline(__always) func factor(_ r: Int) -> Float { 1 }
    @inline(__always)
    func load8(_ r: Int, _ o: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> { Widen.load8(p, r, o) }
    @inline(__always)
    func load1(_ r: Int, _ o: Int) -> Float { Widen.load1(p, r, o) }
}

/// float16 tiles.
typealias Float16Tiles = HalfTiles<Float16Widening>
/// bfloat16 tiles.
typealias BFloat16Tiles = HalfTiles<BFloat16Widening>

/// q8_0 tiles: int8 values, and each tile's eight row scales (float16) together.
struct Q8Tiles: QuantizedTiles {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>
    let strides: TileStrides

    init(_ m: QuantizedMatrix) {
        values = m.values.assumingMemoryBound(to: Int8.self)
        scales = m.scales.unsafelyUnwrapped
        strides = TileStrides(m)
    }

    @inline(__always)
    func tile(_ group: Int, _ chunk: Int) -> Q8Tile {
        let index = strides.index(group, chunk)
        return Q8Tile(values: values + index &* QuantizedMatrix.tileSize, scales: scales + index &* QuantizedMatrix.tileRows)
    }
}

/// One q8_0 tile.
struct Q8Tile: QuantizedTile {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<UInt16>

    @inline(__always) func factors() -> SIMD8<Float> { HalfPrecision.loadHalf8(scales) }
    @inline(__always) func factor(_ r: Int) -> Float { HalfPrecision.float(half: scales[r]) }

    @inline(__always)
    func load8(_ r: Int, _ o: Int, _ factor: SIMD8<Float>) -> SIMD8<Float> {
        factor * HalfPrecision.loadInt8(values + slabOffset(r, o))
    }

    @inline(__always)
    func load1(_ r: Int, _ o: Int) -> Float {
        HalfPrecision.float(half: scales[r]) * Float(values[slabOffset(r, o)])
    }
}
