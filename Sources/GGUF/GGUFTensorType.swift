/// A ggml tensor type, as a GGUF tensor info stores it (a little-endian uint32).
///
/// Every type ggml defines is known by name and block layout, so that the extent of every tensor in a
/// file can be checked and an error can name the type; only F32, F16, BF16 and Q8_0 can be read as
/// float32 (`isReadableAsFloat`).
public struct GGUFTensorType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number the file stores.
    public let rawValue: UInt32

    /// The type with that number (known or not).
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// IEEE binary32.
    public static let f32 = GGUFTensorType(rawValue: 0)
    /// IEEE binary16.
    public static let f16 = GGUFTensorType(rawValue: 1)
    /// Blocks of 32: a binary16 scale, then 32 int8.
    public static let q8_0 = GGUFTensorType(rawValue: 8)
    /// bfloat16: the top half of a binary32.
    public static let bf16 = GGUFTensorType(rawValue: 30)

    /// ggml's layout of each type: name, values per block, bytes per block. Numbers with no entry were
    /// removed from ggml (or never used) and cannot appear in a valid file.
    private static let layouts: [UInt32: (name: String, blockSize: Int, blockBytes: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2),
        2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24),
        8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
        16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
        20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
        24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
        29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
        34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    /// True when ggml defines this number (so its size is known).
    public var isKnown: Bool { Self.layouts[rawValue] != nil }

    /// ggml's name for the type ("F32", "Q8_0", "Q4_K", …), or "type N" for an unknown number.
    public var name: String { Self.layouts[rawValue]?.name ?? "type \(rawValue)" }

    /// The same as `name`.
    public var description: String { name }

    /// Values per block (1 for plain types), or nil for an unknown type.
    public var blockSize: Int? { Self.layouts[rawValue]?.blockSize }

    /// Bytes per block, or nil for an unknown type.
    public var blockBytes: Int? { Self.layouts[rawValue]?.blockBytes }

    /// Whether `GGUFFile.floats` can give this type's values as float32.
    public var isReadableAsFloat: Bool {
        self == .f32 || self == .f16 || self == .bf16 || self == .q8_0
    }
}
