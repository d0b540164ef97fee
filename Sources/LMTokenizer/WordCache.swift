import Foundation

/// A thread-safe, bounded cache from a pre-tokenized word's bytes to its BPE ids. Natural text repeats
/// its words, so most words skip BPE entirely. Lookups hash the caller's bytes in place (no allocation);
/// keys and values live in two flat arenas. When full, it starts over empty: simple, bounded, and cheap
/// enough since refilling costs one BPE per distinct word.
final class WordCache: @unchecked Sendable {
    /// Words longer than this are not cached (they are rare, and would crowd the arenas).
    static let maxWordLength = 128

    private struct Entry {
        var hash: UInt64 = 0
        var keyOffset: Int32 = -1   // -1: free slot
        var keyLength: Int32 = 0
        var valueOffset: Int32 = 0
        var valueCount: Int32 = 0
    }

    /// The mutable state lives behind a pointer: a class's stored `var`s would pay a dynamic
    /// exclusivity check on every access, which showed up in profiles of the per-word lookup.
    private struct State {
        var entries: [Entry]
        var keyArena: [UInt8] = []
        var valueArena: [Int32] = []
        var count = 0
    }

    private let lock = NSLock()
    private let maxEntries: Int
    private let mask: Int
    private let state: UnsafeMutablePointer<State>

    /// A cache holding at most `maxEntries` words (the table stays at most half full).
    init(maxEntries: Int = 1 << 16) {
        var size = 16
        while size < maxEntries * 2 { size *= 2 }
        self.maxEntries = max(1, maxEntries)
        self.mask = size - 1
        state = .allocate(capacity: 1)
        state.initialize(to: State(entries: [Entry](repeating: Entry(), count: size)))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The number of cached words.
    var wordCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return state.pointee.count
    }

    /// Empties the cache.
    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        clearLocked()
    }

    private func clearLocked() {
        state.pointee.entries.withUnsafeMutableBufferPointer { entries in
            for i in entries.indices { entries[i].keyOffset = -1 }
        }
        state.pointee.keyArena.removeAll(keepingCapacity: true)
        state.pointee.valueArena.removeAll(keepingCapacity: true)
        state.pointee.count = 0
    }

    /// A 64-bit hash of `bytes`, eight at a time.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(bytes.count)
        var i = 0
        let raw = UnsafeRawBufferPointer(bytes)
        while i + 8 <= bytes.count {
            let chunk = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ chunk) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
            i += 8
        }
        if i < bytes.count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0x0000_0100_0000_01B3
        }
        h ^= h >> 32
        h = h &* 0x9E37_79B9_7F4A_7C15
        return h ^ (h >> 29)
    }

    /// The slot holding `word`, or the free slot where it would go.
    @inline(__always)
    private func find(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> (slot: Int, found: Bool) {
        state.pointee.entries.withUnsafeBufferPointer { entries in
            state.pointee.keyArena.withUnsafeBufferPointer { keys in
                var i = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let entry = entries[i]
                    if entry.keyOffset < 0 { return (i, false) }
                    if entry.hash == hash, Int(entry.keyLength) == word.count,
                       memcmp(keys.baseAddress! + Int(entry.keyOffset), word.baseAddress!, word.count) == 0 {
                        return (i, true)
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Calls `body` with the cached ids of `word` (under the lock, so it must be quick) and returns
    /// true, or returns false on a miss.
    @inline(__always)
    func withIds(of word: UnsafeBufferPointer<UInt8>, hash: UInt64,
                 _ body: (UnsafeBufferPointer<Int32>) -> Void) -> Bool {
        guard word.count > 0, word.count <= WordCache.maxWordLength else { return false }
        lock.lock()
        defer { lock.unlock() }
        let (slot, found) = find(word, hash: hash)
        guard found else { return false }
        let entry = state.pointee.entries[slot]
        state.pointee.valueArena.withUnsafeBufferPointer { values in
            body(UnsafeBufferPointer(rebasing: values[Int(entry.valueOffset)..<Int(entry.valueOffset + entry.valueCount)]))
        }
        return true
    }

    /// Remembers the ids of `word` (a no-op if it is already cached or too long).
    func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids: UnsafeBufferPointer<Int32>) {
        guard word.count > 0, word.count <= WordCache.maxWordLength else { return }
        lock.lock()
        defer { lock.unlock() }
        if state.pointee.count >= maxEntries { clearLocked() }
        let (slot, found) = find(word, hash: hash)
        guard !found else { return }
        state.pointee.entries[slot] = Entry(
            hash: hash,
            keyOffset: Int32(state.pointee.keyArena.count),
            keyLength: Int32(word.count),
            valueOffset: Int32(state.pointee.valueArena.count),
            valueCount: Int32(ids.count)
        )
        state.pointee.keyArena.append(contentsOf: word)
        state.pointee.valueArena.append(contentsOf: ids)
        state.pointee.count += 1
    }
}
