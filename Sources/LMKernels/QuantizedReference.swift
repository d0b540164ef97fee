/// Plain kernels for weights in a `QuantizedFormat`: the yardstick the fast ones are tested against.
///
/// Each stored value is decoded on its own from its bits, without the SIMD readers the fast kernels
/// use, and accumulated in `Float` left to right as `Reference` does.
public enum QuantizedReference {
    /// w[row, column] decoded from its bits: float16 by its fields, bfloat16 as the top half of a
    /// float32, q8_0 as the float16 scale (decoded the same way) times the int8. Found in the tiles
    /// as `QuantizedMatrix` describes them: tile (row / 8, column / 32) in the matrix's order, then
    /// slab (column % 32) / 8 of the tile, row row % 8 of the slab, column column % 8 (for bfloat16,
    /// pair (row % 8) / 2 of the slab, column column % 8, row row % 2 of the pair).
    public static func value(_ w: QuantizedMatrix, row: Int, column: Int) -> Float {
        let groups = (w.rows + 7) / 8, tilesPerRow = (w.columns + 31) / 32
        let tile = w.order == .rowMajor ? (row / 8) * tilesPerRow + column / 32 : (column / 32) * groups + row / 8
        let slab = tile * 256 + ((column % 32) / 8) * 64
        // bfloat16 slabs hold rows in pairs, alternating column by column.
        let i = w.format == .bfloat16 ? slab + ((row % 8) / 2) * 16 + (column % 8) * 2 + row % 2 : slab + (row % 8) * 8 + column % 8
        switch w.format {
        case .float16:
            return halfValue(w.values.load(fromByteOffset: 2 * i, as: UInt16.self))
        case .bfloat16:
            return Float(bitPattern: UInt32(w.values.load(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
        case .q8_0:
            let scale = halfValue(w.scales.unsafelyUnwrapped[tile * 8 + row % 8])
            return scale * Float(w.values.load(fromByteOffset: i, as: Int8.self))
        }
    }

    /// The float32 matrix [rows, columns] that w stands for.
    public static func dequantize(_ w: QuantizedMatrix) -> [Float] {
        var out = [Float](repeating: 0, count: w.rows * w.columns)
        for r in 0..<w.rows {
            for c in 0..<w.columns { out[r * w.columns + c] = value(w, row: r, column: c) }
        }
        return out
    }

    /// y[M, N] = x[M, K] · w[K, N] (+ bias[N]) with w.rows = K, w.columns = N.
    public static func matmul(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: QuantizedMatrix,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = bias?[j] ?? 0
                for p in 0..<k { acc += x[i * k + p] * value(w, row: p, column: j) }
                y[i * n + j] = acc
            }
        }
    }

    /// y[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) with w.rows = N, w.columns = K.
    public static func matmulTransposed(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: QuantizedMatrix,
        bias: UnsafePointer<Float>?, m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = bias?[j] ?? 0
                for p in 0..<k { acc += x[i * k + p] * value(w, row: j, column: p) }
                y[i * n + j] = acc
            }
        }
    }

    /// An IEEE binary16 bit pattern as float32, from its sign, exponent and mantissa fields.
    static func halfValue(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = Float(h & 0x03FF)
        switch exponent {
        case 0: return sign * mantissa * 0x1p-24
        case 0x1F: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa * 0x1p-10) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
