/// A tensor's values as float32, either read in place from the file's mapping (F32) or converted
/// (F16, BF16, Q8_0) into a buffer of its own.
///
/// The view keeps what it points into alive, so `pointer` is valid for as long as this value (or any
/// copy of it) exists. The memory is never written to.
public struct GGUFFloatTensor: @unchecked Sendable {
    /// The tensor's name.
    public let name: String
    /// ggml's `ne`: dimensions fastest-varying first.
    public let dimensions: [Int]
    /// How the values are stored in the file.
    public let storedType: GGUFTensorType
    /// True when `pointer` points straight into the file's mapping: no copy was made.
    public let isZeroCopy: Bool
    /// The first of `count` float32 values; `dimensions[0]` values make a row.
    public let pointer: UnsafePointer<Float>
    /// The number of values.
    public let count: Int
    /// What `pointer` points into; held only to keep it alive.
    public let storage: AnyObject

    /// Dimensions outermost first (row-major, as PyTorch lists them).
    public var shape: [Int] { dimensions.reversed() }

    /// The values as a buffer (valid while this tensor lives).
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// A copy of the values.
    public func toArray() -> [Float] { Array(buffer) }
}

/// A heap buffer of float32 that frees itself; owns converted tensor values.
public final class GGUFFloatBuffer: @unchecked Sendable {
    /// The first of `count` floats.
    public let pointer: UnsafeMutablePointer<Float>
    /// How many floats the buffer holds.
    public let count: Int

    /// An uninitialized-then-zeroed buffer of `count` floats (at least one is allocated so that the
    /// pointer is valid).
    public init(count: Int) {
        self.count = max(0, count)
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}
