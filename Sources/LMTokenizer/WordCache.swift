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

    private let lock = NSLock()
    private let maxEntries: Int
    private let mask: Int
    private var entries: [Entry]
    private var keyArena: [UInt8] = []
    private var valueArena: [Int32] = []
    private var count = 0

    /// A cache holding at most `maxEntries` words (rounded so the table stays at most half full).
    init(maxEntries: Int = 1 << 16) {
        var size = 16
        while size < maxEntries * 2 { size *= 2 }
        self.maxEntries = max(1, maxEntries)
        self.mask = size - 1
        self.entries = [Entry](repeating: Entry(), count: size)
    }

    /// The number of cached words.
    var wordCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    /// Empties the cache.
    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        clearLocked()
    }

    private func clearLocked() {
        for i in entries.indices { entries[i].keyOffset = -1 }
        keyArena.removeAll(keepingCapacity: true)
        valueArena.removeAll(keepingCapacity: true)
        count = 0
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

    private func keyMatches(_ entry: Entry, _ word: UnsafeBufferPointer<UInt8>) -> Bool {
        guard Int(entry.keyLength) == word.count else { return false }
        return keyArena.withUnsafeBufferPointer { arena in
            memcmp(arena.baseAddress! + Int(entry.keyOffset), word.baseAddress!, word.count) == 0
        }
    }

    /// Appends the cached ids of `word` to `output` and returns true, or returns false on a miss.
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, appendingTo output: inout [Int32]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = entries[i]
            if entry.keyOffset < 0 { return false }
            if entry.hash == hash, keyMatches(entry, word) {
                let start = Int(entry.valueOffset)
                output.append(contentsOf: valueArena[start..<(start + Int(entry.valueCount))])
                return true
            }
            i = (i + 1) & mask
        }
    }

    /// Remembers the ids of `word` (a no-op if it is already cached).
    func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, ids: ArraySlice<Int32>) {
        guard word.count > 0, word.count <= WordCache.maxWordLength else { return }
        lock.lock()
        defer { lock.unlock() }
        if count >= maxEntries { clearLocked() }
        var i = Int(truncatingIfNeeded: hash) & mask
        while entries[i].keyOffset >= 0 {
            if entries[i].hash == hash, keyMatches(entries[i], word) { return }
            i = (i + 1) & mask
        }
        entries[i] = Entry(
            hash: hash,
            keyOffset: Int32(keyArena.count),
            keyLength: Int32(word.count),
            valueOffset: Int32(valueArena.count),
            valueCount: Int32(ids.count)
        )
        keyArena.append(contentsOf: word)
        valueArena.append(contentsOf: ids)
        count += 1
    }
}
