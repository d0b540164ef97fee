import Dispatch

/// Conversions from the stored tensor types to float32: bit-exact for F16 and BF16; for Q8_0, each
/// block of 32 values is its binary16 scale `d` times its 32 int8 `q`, as ggml computes it
/// (`Float(d) * Float(q)` in float32).
public enum GGUFDequantize {
    /// Values per Q8_0 block.
    public static let q8BlockSize = 32
    /// Bytes per Q8_0 block: a binary16 scale and 32 int8.
    public static let q8BlockBytes = 34

    /// The float32 equal to an IEEE binary16 (every binary16 is exactly representable). Written on the
    /// bits rather than through `Float16`, which Swift does not offer on every platform.
    @inlinable
    public static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // ∞ or NaN, payload kept
        }
        if exponent != 0 {
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))  // rebias 15 → 127
        }
        let magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal: mantissa × 2⁻²⁴, exact
        return sign != 0 ? -magnitude : magnitude
    }

    /// The float32 equal to a bfloat16: its bits are the top 16 of a float32.
    @inlinable
    public static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Converts `count` values of `type` at `source` (little-endian, any alignment) into `destination`.
    /// `type` must be readable as float (`isReadableAsFloat`) and, for Q8_0, `count` a multiple of 32.
    /// Large tensors are split across threads.
    static func convert(_ type: GGUFTensorType, from source: UnsafeRawPointer, count: Int,
                        into destination: UnsafeMutablePointer<Float>) {
        let chunk = 1 << 18  // values per task: a multiple of the Q8_0 block, large enough to amortise
        let tasks = (count + chunk - 1) / chunk
        let run = { (task: Int) in
            let start = task * chunk
            let n = min(chunk, count - start)
            convertRange(type, from: source, start: start, count: n, into: destination)
        }
        if tasks <= 1 {
            if count > 0 { run(0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: tasks, execute: run)
        }
    }

    /// Converts values `start ..< start + count` (for Q8_0, both multiples of 32).
    static func convertRange(_ type: GGUFTensorType, from source: UnsafeRawPointer, start: Int, count: Int,
                             into destination: UnsafeMutablePointer<Float>) {
        let out = destination + start
        switch type {
        case .f32:
            let src = source + start * 4
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .f16:
            let src = source + start * 2
            for i in 0..<count {
                out[i] = float(fromHalfBits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bf16:
            let src = source + start * 2
            for i in 0..<count {
                out[i] = float(fromBFloat16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .q8_0:
            let firstBlock = start / q8BlockSize
            for b in 0..<(count / q8BlockSize) {
                let block = source + (firstBlock + b) * q8BlockBytes
                let d = float(fromHalfBits: UInt16(littleEndian: block.loadUnaligned(as: UInt16.self)))
                let q = block + 2
                let o = out + b * q8BlockSize
                for j in 0..<q8BlockSize {
                    o[j] = d * Float(Int8(bitPattern: q.load(fromByteOffset: j, as: UInt8.self)))
                }
            }
        default:
            break  // callers check isReadableAsFloat first
        }
    }
}
