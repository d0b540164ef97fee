@testable import LMTokenizer
import XCTest

/// The word cache: hits return what was stored, it stays within its bound, and long words are skipped.
final class WordCacheTests: XCTestCase {
    private func lookup(_ cache: WordCache, _ word: String) -> [Int32]? {
        let bytes = Array(word.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            var found: [Int32]?
            let hit = cache.withIds(of: buffer, hash: WordCache.hash(buffer)) { found = Array($0) }
            return hit ? found : nil
        }
    }

    private func insert(_ cache: WordCache, _ word: String, _ ids: [Int32]) {
        let bytes = Array(word.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            ids.withUnsafeBufferPointer { cache.insert(buffer, hash: WordCache.hash(buffer), ids: $0) }
        }
    }

    func testHitsMissesAndBound() {
        let cache = WordCache(maxEntries: 8)
        insert(cache, "hello", [1, 2])
        insert(cache, "hellp", [3])
        XCTAssertEqual(lookup(cache, "hello"), [1, 2])
        XCTAssertEqual(lookup(cache, "hellp"), [3])
        XCTAssertNil(lookup(cache, "hell"))
        XCTAssertNil(lookup(cache, "hello!"))
        for i in 0..<100 {
            insert(cache, "word\(i)", [Int32(i)])
            XCTAssertLessThanOrEqual(cache.wordCount, 8)
            XCTAssertEqual(lookup(cache, "word\(i)"), [Int32(i)])
        }
        cache.removeAll()
        XCTAssertEqual(cache.wordCount, 0)
        XCTAssertNil(lookup(cache, "word99"))
    }

    func testLongWordsAreNotCached() {
        let cache = WordCache()
        let long = String(repeating: "x", count: WordCache.maxWordLength + 1)
        insert(cache, long, [7])
        XCTAssertNil(lookup(cache, long))
        XCTAssertEqual(cache.wordCount, 0)
    }

    func testHashUsesEveryByte() {
        var seen = Set<UInt64>()
        for word in ["a", "b", "ab", "ba", "abcdefgh", "abcdefgi", "abcdefghi", "bbcdefghi", ""] {
            let bytes = Array(word.utf8)
            seen.insert(bytes.withUnsafeBufferPointer { WordCache.hash($0) })
        }
        XCTAssertEqual(seen.count, 9)
    }
}
