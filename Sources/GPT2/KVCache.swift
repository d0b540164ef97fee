/// The keys and values every layer has computed so far for one sequence, so that generation feeds one
/// token per step instead of the whole context again.
///
/// Layout per layer: keys and values are each [nHead, capacity, headDim]: head by head, row s of a
/// head is absolute position s. A decode step's attention then reads each head's keys and values as
/// one run of memory (side by side in rows of C, a head's 256 bytes sit in every 3 KB row).
/// `Kernels.attention` reads it with kvStride = headDim, kvHeadStride = capacity·headDim.
public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold (at most the model's `n_positions`).
    public let capacity: Int
    /// Row width C.
    public let width: Int
    /// Number of layers.
    public let layerCount: Int
    /// Number of heads (C = heads × headDim).
    public let headCount: Int
    /// C / heads.
    public var headDim: Int { width / headCount }
    /// Floats from one head's rows to the next head's.
    public var headStride: Int { capacity * headDim }
    /// Positions filled so far: the next token goes to position `count`.
    public internal(set) var count: Int = 0
    /// The token ids whose keys and values are cached, in order (count of them).
    public internal(set) var tokens: [Int] = []

    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    /// An empty cache for a model of `config`'s shape holding up to `capacity` positions.
    public convenience init(config: GPT2Config, capacity: Int? = nil) {
        self.init(width: config.nEmbd, layerCount: config.nLayer, headCount: max(1, config.nHead),
                  capacity: min(capacity ?? config.nPositions, config.nPositions))
    }

    private init(width: Int, layerCount: Int, headCount: Int, capacity: Int) {
        self.capacity = max(capacity, 0)
        self.width = width
        self.layerCount = layerCount
        self.headCount = headCount
        let size = self.capacity * width
        // Left uninitialised on purpose: rows are written before they are read (only rows < count are
        // read), and untouched pages of a large cache then cost no memory.
        keys = (0..<layerCount).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1)) }
        values = (0..<layerCount).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1)) }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    /// Stores the keys and values of position `position` for layer `layer`: k and v are [C] rows
    /// (heads side by side, as the qkv projection makes them).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        let d = headDim
        for h in 0..<headCount {
            (keys[layer] + h * headStride + position * d).update(from: k + h * d, count: d)
            (values[layer] + h * headStride + position * d).update(from: v + h * d, count: d)
        }
    }

    /// Forgets every position from `newCount` on, keeping the prefix (for reuse by a longer or different suffix).
    public func truncate(to newCount: Int) {
        let n = max(0, min(newCount, count))
        count = n
        tokens.removeSubrange(n...)
    }

    /// A new cache (of `capacity` positions, default this one's) holding a copy of the first `prefix` positions.
    public func copy(prefix: Int? = nil, capacity newCapacity: Int? = nil) -> KVCache {
        let n = max(0, min(prefix ?? count, count))
        let other = KVCache(width: width, layerCount: layerCount, headCount: headCount, capacity: max(newCapacity ?? capacity, n))
        for l in 0..<layerCount {
            for h in 0..<headCount {
                (other.keys[l] + h * other.headStride).update(from: keys[l] + h * headStride, count: n * headDim)
                (other.values[l] + h * other.headStride).update(from: values[l] + h * headStride, count: n * headDim)
            }
        }
        other.count = n
        other.tokens = Array(tokens.prefix(n))
        return other
    }

    /// Bytes of memory the cache holds.
    public var byteCount: Int { 2 * layerCount * capacity * width * MemoryLayout<Float>.size }
}
