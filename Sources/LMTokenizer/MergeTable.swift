/// The BPE merge rules as a hash table from a pair of token ids to the merge's rank and the id of the
/// merged token, and the merge algorithm itself. Working on ids (not strings) is what makes it fast:
/// a merged token's string is by construction the concatenation of its parts.
struct MergeTable {
    /// No merge for this pair: larger than every packed rank/id value.
    static let noMerge = UInt64.max

    // Open addressing with linear probing; `keys[i] == emptyKey` marks a free slot.
    private static let emptyKey = UInt64.max
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private let shift: UInt64

    /// The number of merge rules.
    private(set) var count = 0

    /// An empty table sized for `capacity` rules.
    init(capacity: Int) {
        var size = 16
        var bits: UInt64 = 4
        while size < capacity * 2 {
            size *= 2
            bits += 1
        }
        keys = [UInt64](repeating: MergeTable.emptyKey, count: size)
        values = [UInt64](repeating: MergeTable.noMerge, count: size)
        mask = size - 1
        shift = 64 - bits
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Adds the rule `left right → merged` with the given rank; returns false if the pair already had
    /// one (the earlier, lower rank wins, as in Hugging Face).
    @discardableResult
    mutating func insert(left: Int32, right: Int32, rank: Int, merged: Int32) -> Bool {
        let k = MergeTable.key(left, right)
        var i = slot(k)
        while keys[i] != MergeTable.emptyKey {
            if keys[i] == k { return false }
            i = (i + 1) & mask
        }
        keys[i] = k
        values[i] = UInt64(UInt32(truncatingIfNeeded: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
        return true
    }

    /// The packed `rank << 32 | merged id` for a pair, or `noMerge`. Comparing packed values compares
    /// ranks, since a rank belongs to exactly one pair.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let k = MergeTable.key(left, right)
        return keys.withUnsafeBufferPointer { keys in
            var i = slot(k)
            while true {
                let found = keys[i]
                if found == k { return values.withUnsafeBufferPointer { $0[i] } }
                if found == MergeTable.emptyKey { return MergeTable.noMerge }
                i = (i + 1) & mask
            }
        }
    }

    /// The merged id inside a packed value.
    @inline(__always)
    static func mergedId(_ packed: UInt64) -> Int32 {
        Int32(bitPattern: UInt32(truncatingIfNeeded: packed))
    }

    /// A heap key ordering pairs by rank, then position: the packed value's rank with the position.
    @inline(__always)
    private static func heapKey(_ packed: UInt64, position: Int) -> UInt64 {
        packed & 0xFFFF_FFFF_0000_0000 | UInt64(position)
    }

    /// Words at most this long use the quadratic merge loop, which beats the heap on short words.
    static let heapThreshold = 48

    /// Merges `symbols` (initially one id per byte) in place, lowest rank first and leftmost first
    /// among equal ranks, exactly as Hugging Face's BPE does.
    func merge(_ symbols: inout [Int32]) {
        if symbols.count <= MergeTable.heapThreshold {
            mergeQuadratic(&symbols)
        } else {
            mergeWithHeap(&symbols)
        }
    }

    /// The reference algorithm: scan for the best pair, merge it, repeat. O(n²), fast for short words.
    func mergeQuadratic(_ symbols: inout [Int32]) {
        var n = symbols.count
        guard n > 1 else { return }
        var ranks = [UInt64](repeating: MergeTable.noMerge, count: n - 1)
        for i in 0..<(n - 1) { ranks[i] = lookup(symbols[i], symbols[i + 1]) }
        while n > 1 {
            var best = 0
            var bestValue = ranks[0]
            for i in 1..<(n - 1) where ranks[i] < bestValue {
                best = i
                bestValue = ranks[i]
            }
            if bestValue == MergeTable.noMerge { break }
            symbols[best] = MergeTable.mergedId(bestValue)
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            n -= 1
            if best > 0 { ranks[best - 1] = lookup(symbols[best - 1], symbols[best]) }
            if best < n - 1 { ranks[best] = lookup(symbols[best], symbols[best + 1]) }
        }
    }

    /// The same merges in O(n log n) for long words (long runs of digits, punctuation or one script):
    /// a linked list of symbols and a min-heap of candidate pairs keyed by (rank, position). Entries
    /// that went stale when a neighbour merged are recognised and skipped when popped.
    func mergeWithHeap(_ symbols: inout [Int32]) {
        let n = symbols.count
        guard n > 1 else { return }
        var next = Array(1...n)           // n means "none"
        var previous = Array(-1..<(n - 1)) // -1 means "none"
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            let value = lookup(symbols[i], symbols[i + 1])
            if value != MergeTable.noMerge { heap.push(MergeTable.heapKey(value, position: i)) }
        }
        while let entry = heap.pop() {
            let i = Int(entry & 0xFFFF_FFFF)
            let j = next[i]
            // Dead symbols have next == -1; a pair whose ids changed no longer has this rank.
            guard j > 0, j < n else { continue }
            let value = lookup(symbols[i], symbols[j])
            guard value != MergeTable.noMerge, value >> 32 == entry >> 32 else { continue }
            symbols[i] = MergeTable.mergedId(value)
            let k = next[j]
            next[i] = k
            next[j] = -1
            if k < n { previous[k] = i }
            let p = previous[i]
            if p >= 0 {
                let left = lookup(symbols[p], symbols[i])
                if left != MergeTable.noMerge { heap.push(MergeTable.heapKey(left, position: p)) }
            }
            if k < n {
                let right = lookup(symbols[i], symbols[k])
                if right != MergeTable.noMerge { heap.push(MergeTable.heapKey(right, position: i)) }
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            out.append(symbols[i])
            i = next[i]
        }
        symbols = out
    }
}

/// A binary min-heap of `rank << 32 | position` keys.
struct MinHeap {
    private var items: [UInt64] = []

    /// Adds a key.
    mutating func push(_ item: UInt64) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent] <= items[child] { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    /// Removes and returns the smallest key.
    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= items.count { break }
            let right = left + 1
            let child = right < items.count && items[right] < items[left] ? right : left
            if items[parent] <= items[child] { break }
            items.swapAt(parent, child)
            parent = child
        }
        return top
    }
}
