import Foundation
import GPT2

/// KV caches of recent sequences, kept so that a request sharing a token prefix with an earlier one
/// (typing into a long context, the same prompt again, another client with the same preamble) runs only
/// its new tokens. Bounded in bytes; the least recently used cache goes first.
///
/// A cache is checked out for exclusive use and checked back in afterwards; two requests never write
/// the same cache.
final class PrefixCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Entry] = []  // least recently used first

    /// A cache and, when known, the logits of its last position (so the same context again costs nothing).
    private struct Entry {
        var cache: KVCache
        var lastLogits: [Float]?
        var byteCount: Int { cache.byteCount + (lastLogits?.count ?? 0) * MemoryLayout<Float>.size }
    }
    private let maxBytes: Int
    private let makeCache: () -> KVCache

    /// Tokens reused and computed since start, for benchmarks and logs.
    private(set) var reusedTokens = 0
    private(set) var computedTokens = 0

    /// A pool of at most `maxBytes` of caches made by `makeCache` (0 disables reuse).
    init(maxBytes: Int, makeCache: @escaping () -> KVCache) {
        self.maxBytes = maxBytes
        self.makeCache = makeCache
    }

    /// The cache of exactly `tokens` with the logits of its last position, if both are held.
    func checkoutExact(_ tokens: [Int]) -> (KVCache, [Float])? {
        lock.lock()
        defer { lock.unlock() }
        guard let i = entries.lastIndex(where: { $0.lastLogits != nil && $0.cache.tokens == tokens }) else { return nil }
        let entry = entries.remove(at: i)
        reusedTokens += tokens.count
        return (entry.cache, entry.lastLogits!)
    }

    /// A cache holding the longest cached prefix of `tokens` — at most `tokens.count - 1` positions, so
    /// that at least the last token is run again and yields logits — or an empty one.
    func checkout(for tokens: [Int]) -> KVCache {
        lock.lock()
        var best: (index: Int, length: Int)?
        for (i, entry) in entries.enumerated() {
            let n = min(commonPrefix(entry.cache.tokens, tokens), tokens.count - 1)
            if n > 0, n > (best?.length ?? 0) { best = (i, n) }
        }
        let cache: KVCache?
        if let best {
            cache = entries.remove(at: best.index).cache
            cache?.truncate(to: best.length)
        } else {
            cache = nil
        }
        let reused = cache?.count ?? 0
        reusedTokens += reused
        computedTokens += tokens.count - reused
        lock.unlock()
        return cache ?? makeCache()
    }

    /// Returns a cache to the pool as the most recently used, dropping the oldest past the byte bound.
    /// `lastLogits`, when given, are the logits after all of the cache's tokens.
    func checkin(_ cache: KVCache, lastLogits: [Float]? = nil) {
        lock.lock()
        defer { lock.unlock() }
        let entry = Entry(cache: cache, lastLogits: lastLogits)
        guard entry.byteCount <= maxBytes, cache.count > 0 else { return }
        entries.append(entry)
        var total = entries.reduce(0) { $0 + $1.byteCount }
        while total > maxBytes, !entries.isEmpty {
            total -= entries.removeFirst().byteCount
        }
    }

    /// Number of caches held.
    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// Drops every cache.
    func removeAll() { lock.lock(); entries.removeAll(); lock.unlock() }

    private func commonPrefix(_ a: [Int], _ b: [Int]) -> Int {
        var n = 0
        let m = min(a.count, b.count)
        while n < m, a[n] == b[n] { n += 1 }
        return n
    }
}
