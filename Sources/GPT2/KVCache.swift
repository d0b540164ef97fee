/// The keys and values every layer has computed so far for one sequence, so that generation feeds one
/// token per step instead of the whole context again.
///
/// Layout per layer: keys and values are each [capacity, C] row-major; row s is absolute position s,
/// head h in columns h·headDim ..< (h+1)·headDim — the layout `Kernels.attention` reads.
public final class KVCache: @unchecked Sendable {
    /// Positions the cache can hold (at most the model's `n_positions`).
    public let capacity: Int
    /// Row width C.
    public let width: Int
    /// Number of layers.
    public let layerCount: Int
    /// Positions filled so far: the next token goes to position `count`.
    public internal(set) var count: Int = 0
    /// The token ids whose keys and values are cached, in order (count of them).
    public internal(set) var tokens: [Int] = []

    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    /// An empty cache for a model of `config`'s shape holding up to `capacity` positions.
    public init(config: GPT2Config, capacity: Int? = nil) {
        let cap = min(capacity ?? config.nPositions, config.nPositions)
        self.capacity = max(cap, 0)
        self.width = config.nEmbd
        self.layerCount = config.nLayer
        let size = self.capacity * config.nEmbd
        keys = (0..<config.nLayer).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1)); p.initialize(repeating: 0, count: max(size, 1)); return p
        }
        values = (0..<config.nLayer).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1)); p.initialize(repeating: 0, count: max(size, 1)); return p
        }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    /// Forgets every position from `newCount` on, keeping the prefix (for reuse by a longer or different suffix).
    public func truncate(to newCount: Int) {
        let n = max(0, min(newCount, count))
        count = n
        tokens.removeSubrange(n...)
    }

    /// Bytes of memory the cache holds.
    public var byteCount: Int { 2 * layerCount * capacity * width * MemoryLayout<Float>.size }
}
