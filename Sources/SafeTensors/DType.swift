/// The element types a safetensors header may name.
///
/// Only F32, F16 and BF16 can be read as floats; the others are known so that an error can name them
/// and so that sizes and offsets of every tensor in a file can still be checked.
public enum DType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32.
    case f32 = "F32"
    /// IEEE 754 binary16.
    case f16 = "F16"
    /// bfloat16: the top half of a binary32.
    case bf16 = "BF16"
    /// IEEE 754 binary64.
    case f64 = "F64"
    /// 8-bit float, 4 exponent and 3 mantissa bits.
    case f8e4m3 = "F8_E4M3"
    /// 8-bit float, 5 exponent and 2 mantissa bits.
    case f8e5m2 = "F8_E5M2"
    /// 8-bit exponent-only scale.
    case f8e8m0 = "F8_E8M0"
    /// 6-bit float, 2 exponent and 3 mantissa bits.
    case f6e2m3 = "F6_E2M3"
    /// 6-bit float, 3 exponent and 2 mantissa bits.
    case f6e3m2 = "F6_E3M2"
    /// 4-bit float.
    case f4 = "F4"
    /// Complex number of two binary32.
    case c64 = "C64"
    /// Signed integers.
    case i8 = "I8", i16 = "I16", i32 = "I32", i64 = "I64"
    /// Unsigned integers.
    case u8 = "U8", u16 = "U16", u32 = "U32", u64 = "U64"
    /// One byte per boolean.
    case bool = "BOOL"

    /// Bits one element takes in the data section.
    public var bitWidth: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .f8e4m3, .f8e5m2, .f8e8m0, .i8, .u8, .bool: return 8
        case .f16, .bf16, .i16, .u16: return 16
        case .f32, .i32, .u32: return 32
        case .f64, .i64, .u64, .c64: return 64
        }
    }

    /// Whether `SafeTensorsFile.floats` can give this dtype's values as float32 (exactly).
    public var isReadableAsFloat: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }

    /// The name PyTorch and Hugging Face configs use for it ("float32", "float16", "bfloat16", …).
    public var torchName: String {
        switch self {
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .f64: return "float64"
        case .f8e4m3: return "float8_e4m3fn"
        case .f8e5m2: return "float8_e5m2"
        case .f8e8m0: return "float8_e8m0fnu"
        case .f6e2m3: return "float6_e2m3"
        case .f6e3m2: return "float6_e3m2"
        case .f4: return "float4_e2m1"
        case .c64: return "complex64"
        case .i8: return "int8"
        case .i16: return "int16"
        case .i32: return "int32"
        case .i64: return "int64"
        case .u8: return "uint8"
        case .u16: return "uint16"
        case .u32: return "uint32"
        case .u64: return "uint64"
        case .bool: return "bool"
        }
    }

    /// Bytes `count` elements take, or nil when that is not a whole number of bytes or overflows.
    public func byteCount(elements count: Int) -> Int? {
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
        guard !overflow, count >= 0, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}
