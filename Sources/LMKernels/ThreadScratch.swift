import Glibc

/// Reusable per-thread scratch memory, so the hot kernels do not allocate on every call.
///
/// Each slot is a separate buffer per thread (a kernel that calls another one uses a different slot);
/// a buffer grows when a larger one is asked for and is freed when its thread exits.
enum ThreadScratch {
    /// The slots in use; each names one buffer per thread.
    enum Slot: Int {
        /// Packed weight panels of the blocked matrix product.
        case packedPanels = 0
        /// Attention scores of one block of queries.
        case attentionScores = 1
        /// One head's queries and keys, copied contiguous.
        case attentionHead = 2
    }

    private static let headerBytes = 64

    private static let keys: [pthread_key_t] = (0..<3).map { _ in
        var key = pthread_key_t()
        pthread_key_create(&key) { buffer in free(buffer) }
        return key
    }

    /// A 64-byte aligned buffer of at least `count` floats owned by the calling thread, valid until
    /// the same thread asks the same slot for more. Its contents are unspecified.
    static func floats(_ slot: Slot, count: Int) -> UnsafeMutablePointer<Float> {
        let key = keys[slot.rawValue]
        if let raw = pthread_getspecific(key) {
            if raw.load(as: Int.self) >= count {
                return (raw + headerBytes).assumingMemoryBound(to: Float.self)
            }
            pthread_setspecific(key, nil)
            free(raw)
        }
        // Round up so that slowly growing requests do not reallocate every time.
        var capacity = 1 << 12
        while capacity < count { capacity <<= 1 }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, headerBytes + capacity * MemoryLayout<Float>.stride) == 0,
              let raw
        else {
            // Out of memory: nothing sensible is left to do in a kernel.
            fatalError("LMKernels: cannot allocate \(capacity) floats of scratch memory")
        }
        raw.storeBytes(of: capacity, as: Int.self)
        pthread_setspecific(key, raw)
        return (raw + headerBytes).bindMemory(to: Float.self, capacity: capacity)
    }
}
