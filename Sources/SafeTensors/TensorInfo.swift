/// What a safetensors header says about one tensor, after it has been checked.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor's key in the header.
    public let name: String
    /// Its element type.
    public let dtype: DType
    /// Its dimensions, outermost first (row-major); `[]` is a scalar.
    public let shape: [Int]
    /// Where its bytes lie, as offsets from the start of the file (not of the data section).
    public let byteRange: Range<Int>

    /// The number of elements: the product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}
