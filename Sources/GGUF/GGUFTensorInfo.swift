/// What a GGUF file says about one tensor, after it has been checked against the file.
///
/// GGUF (like ggml) lists dimensions fastest-varying first: `dimensions[0]` is the length of a row.
/// A PyTorch weight of shape [out, in] is stored with dimensions [in, out]; `shape` gives the
/// PyTorch (row-major, outermost first) order.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_qkv.weight".
    public let name: String
    /// ggml's `ne`: dimensions fastest-varying first.
    public let dimensions: [Int]
    /// How the values are stored.
    public let type: GGUFTensorType
    /// The offset the file gives, relative to the start of the data section.
    public let relativeOffset: UInt64
    /// Where its bytes lie, as offsets from the start of the file (checked to lie within it).
    public let byteRange: Range<Int>

    /// Dimensions outermost first (row-major, as PyTorch and safetensors list them): `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }

    /// The number of values: the product of the dimensions (1 for none).
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// The number of stored bytes.
    public var byteCount: Int { byteRange.count }
}
