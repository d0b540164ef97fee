/// A tensor's values as float32, either read in place from the file's mapping or converted.
///
/// The view keeps what it points into alive (the mapping or the converted buffer), so `pointer` is
/// valid for as long as this value, or any copy of it, exists. The memory is never written to.
public struct FloatTensor: @unchecked Sendable {
    /// The tensor's key.
    public let name: String
    /// Its dimensions, outermost first (row-major).
    public let shape: [Int]
    /// The dtype it is stored in in the file.
    public let storedDType: DType
    /// True when `pointer` points straight into the file's mapping (F32, 4-byte aligned): no copy.
    public let isZeroCopy: Bool
    /// The first of `count` float32 values, row-major.
    public let pointer: UnsafePointer<Float>
    /// The number of values: the product of `shape`.
    public let count: Int
    /// What `pointer` points into; held only to keep it alive.
    let owner: AnyObject

    /// The values as a buffer (valid while this tensor lives).
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// A copy of the values.
    public func toArray() -> [Float] { Array(buffer) }

    /// The object that owns the memory `pointer` points into, for holders that keep only the pointer.
    public var storage: AnyObject { owner }
}

/// A heap buffer of float32 that frees itself; owns converted (non zero-copy) tensor values.
public final class FloatBuffer: @unchecked Sendable {
    /// The first of `count` floats.
    public let pointer: UnsafeMutablePointer<Float>
    /// How many floats the buffer holds.
    public let count: Int

    /// A zero-filled buffer of `count` floats (at least one is allocated so that the pointer is valid).
    public init(count: Int) {
        self.count = max(0, count)
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}
