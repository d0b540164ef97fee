import Foundation
@testable import LMEngine
import TestSupport
import XCTest

/// The prefix cache and batching change speed, never results.
final class CacheAndBatchTests: XCTestCase {
    private func makeEngine(prefixCacheBytes: Int) throws -> Engine {
        var o = EngineOptions()
        o.threads = 2
        o.prefixCacheBytes = prefixCacheBytes
        return try Engine.load(modelDirectory: Fixtures.tinyModel, options: o)
    }

    func testPrefixCacheResultsEqualColdRuns() throws {
        let warm = try makeEngine(prefixCacheBytes: 64 << 20)
        let cold = try makeEngine(prefixCacheBytes: 0)
        // Typing: each request extends the previous context by a word.
        var text = "def fibonacci(n):\n    if n <"
        for word in [" 2", ":", "\n", "        return", " n", "\n", "    return"] {
            text += word
            let ids = warm.encode(text, addPrefixSpace: false)
            let a = try warm.topK(ids: ids, k: 20), b = try cold.topK(ids: ids, k: 20)
            XCTAssertEqual(a.ids, b.ids, text)
            XCTAssertEqual(a.logits, b.logits, "logits differ after reusing the cache for \(text.debugDescription)")
        }
        XCTAssertGreaterThan(warm.prefixCache.reusedTokens, 0, "nothing was reused")
        XCTAssertEqual(cold.prefixCache.reusedTokens, 0)
        // The same prompt again, and generation continuing a cached context.
        var o = GenerationOptions(); o.maxTokens = 12; o.stopAtEndOfText = false
        let ids = warm.encode(text, addPrefixSpace: false)
        XCTAssertEqual(try warm.generate(ids: ids, options: o).ids, try cold.generate(ids: ids, options: o).ids)
        XCTAssertEqual(try warm.generate(ids: ids, options: o).ids, try cold.generate(ids: ids, options: o).ids)
        // A different branch off a shared prefix.
        let other = warm.encode("def fibonacci(n):\n    return 1", addPrefixSpace: false)
        XCTAssertEqual(try warm.topK(ids: other, k: 5).logits, try cold.topK(ids: other, k: 5).logits)
    }

    func testPrefixCacheStaysWithinItsBound() throws {
        // The tiny model's cache is 2 layers × 128 × 32 × 2 × 4 bytes = 64 KiB, plus its last logits
        // (50,257 floats): room for two.
        let engine = try makeEngine(prefixCacheBytes: 2 * (65536 + 50257 * 4))
        for i in 0..<5 { _ = try engine.topK(ids: [100 + i, 200, 300], k: 1) }
        XCTAssertEqual(engine.prefixCache.count, 2)
    }

    func testTheSameContextAgainIsAnsweredFromTheCache() throws {
        let engine = try makeEngine(prefixCacheBytes: 64 << 20)
        let ids = [40, 4601, 314, 547]
        let first = try engine.topK(ids: ids, k: 10)
        let steps = engine.scheduler.steps
        let again = try engine.topK(ids: ids, k: 10)
        XCTAssertEqual(engine.scheduler.steps, steps, "the same context ran the model again")
        XCTAssertEqual(again.ids, first.ids)
        XCTAssertEqual(again.logits, first.logits)
        XCTAssertEqual(again.probs, first.probs)
        // A longer context reuses the cache and still runs the new token.
        _ = try engine.topK(ids: ids + [11], k: 10)
        XCTAssertEqual(engine.scheduler.steps, steps + 1)
        let cold = try makeEngine(prefixCacheBytes: 0)
        XCTAssertEqual(try engine.topK(ids: ids + [11], k: 10).logits, try cold.topK(ids: ids + [11], k: 10).logits)
    }

    func testConcurrentRequestsAreBatchedAndEqualSequentialOnes() throws {
        let engine = try makeEngine(prefixCacheBytes: 0)
        let prompts = (0..<8).map { i in [40, 4601, 314, 547 + i] }
        var o = GenerationOptions(); o.maxTokens = 10; o.stopAtEndOfText = false
        let sequential = try prompts.map { try engine.generate(ids: $0, options: o).ids }
        let stepsBefore = engine.scheduler.steps
        var concurrent = [[Int]](repeating: [], count: prompts.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: prompts.count) { i in
            let ids = (try? engine.generate(ids: prompts[i], options: o).ids) ?? []
            lock.lock(); concurrent[i] = ids; lock.unlock()
        }
        XCTAssertEqual(concurrent, sequential)
        let steps = engine.scheduler.steps - stepsBefore
        // Alone, 8 × 10 tokens take 80 steps; together they share steps.
        XCTAssertLessThan(steps, 80, "no two requests shared a step")
        print("batching: 8 concurrent 10-token generations took \(steps) steps")
    }

    func testCancellingOneJobLeavesItsBatchmatesAlone() throws {
        let engine = try makeEngine(prefixCacheBytes: 0)
        var o = GenerationOptions(); o.maxTokens = 20; o.stopAtEndOfText = false
        let expected = try engine.generate(ids: [40, 4601], options: o).ids
        let flag = CancellationFlag()
        var a: Generation?, b: Generation?
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            if i == 0 {
                a = try? engine.generate(ids: [40, 4601], options: o)
            } else {
                var seen = 0
                b = try? engine.generate(ids: [40, 4602], options: o, cancel: flag) { _ in
                    seen += 1; if seen == 2 { flag.cancel() }
                }
            }
        }
        XCTAssertEqual(a?.ids, expected)
        XCTAssertEqual(b?.finishReason, .cancelled)
        XCTAssertEqual(b?.ids.count, 2)
    }
}
