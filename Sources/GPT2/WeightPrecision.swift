import LMKernels

/// The precision the model's matrices are computed from: float32, or a narrower copy made at load.
///
/// The raw value is the name `ModelInfo.dtype` reports (PyTorch's for float types, ggml's for q8_0).
/// Whatever the precision, arithmetic is float32: narrow weights are widened in registers.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// 4 bytes a weight.
    case float32
    /// IEEE half precision: 2 bytes a weight, 11 significant bits.
    case float16
    /// bfloat16: 2 bytes a weight, 8 significant bits, float32's range.
    case bfloat16
    /// Blocks of 32 int8 weights sharing a float16 scale: 1.0625 bytes a weight.
    case q8_0

    /// The precision a command-line or config name means: "f32"/"float32"/"fp32", "f16"/"float16"/
    /// "fp16"/"half", "bf16"/"bfloat16", "q8_0"/"q8" (case-insensitive); nil for anything else.
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "fp32", "float32", "float": self = .float32
        case "f16", "fp16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        case "q8_0", "q8": self = .q8_0
        default: return nil
        }
    }

    /// The names `init(name:)` accepts, one per precision, for help texts and error messages.
    public static let names = ["f32", "f16", "bf16", "q8_0"]

    /// The kernels' storage format (nil for float32, which the float32 kernels read directly).
    public var format: QuantizedFormat? {
        switch self {
        case .float32: return nil
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        case .q8_0: return .q8_0
        }
    }

    /// Bytes one weight takes.
    public var bytesPerWeight: Double {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .q8_0: return 34.0 / 32.0
        }
    }
}

/// How a `WeightTensor`'s values are stored.
public enum WeightStorage: @unchecked Sendable {
    /// float32 values, row-major.
    case float32(UnsafePointer<Float>)
    /// A float32 Conv1D matrix [K, N] re-laid in column panels for the kernels (`PackedMatrix`).
    case packed(PackedMatrix)
    /// A float32 [N, K] matrix (the head's layout, y = x·wᵀ) kept as its transpose [K, N] in panels.
    case packedTransposed(PackedMatrix)
    /// A matrix in a narrower format (see `QuantizedMatrix`).
    case quantized(QuantizedMatrix)
    /// A [N, K] matrix (the head's layout, y = x·wᵀ) kept as its transpose [K, N] in a narrower
    /// format, in column-major tiles, so the head is the same product as a Conv1D matrix's.
    case quantizedTransposed(QuantizedMatrix)

    /// The precision of the stored values.
    public var precision: WeightPrecision {
        switch self {
        case .float32, .packed, .packedTransposed: return .float32
        case .quantized(let m), .quantizedTransposed(let m):
            switch m.format {
            case .float16: return .float16
            case .bfloat16: return .bfloat16
            case .q8_0: return .q8_0
            }
        }
    }
}
