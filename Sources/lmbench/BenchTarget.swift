import Foundation
import LMEngine

/// One greedy completion as a client saw it.
struct CompletionTiming: Sendable {
    /// New tokens made.
    var tokens: Int
    /// Seconds from the request to the first new token.
    var firstToken: Double
    /// Seconds from the request to the answer.
    var total: Double

    /// Tokens per second after the first (prompt processing excluded); nil for fewer than two tokens.
    var decodeRate: Double? {
        tokens >= 2 && total > firstToken ? Double(tokens - 1) / (total - firstToken) : nil
    }
}

/// Something the benchmark's cases run against: the engine in this process, or a live lmd.
protocol BenchTarget: AnyObject {
    /// The ids of the `k` most likely next tokens after `ids`, best first.
    func topK(ids: [Int], k: Int) throws -> [Int]
    /// A greedy completion of up to `maxTokens` tokens after `ids` (not stopping at end-of-text where
    /// the target allows it).
    func complete(ids: [Int], maxTokens: Int) throws -> CompletionTiming
    /// A target for one more concurrent client: the engine itself, or a new connection to the daemon.
    func connection() throws -> BenchTarget
}

/// The engine, called directly.
final class EngineTarget: BenchTarget {
    let engine: Engine

    init(engine: Engine) { self.engine = engine }

    func topK(ids: [Int], k: Int) throws -> [Int] {
        try engine.topK(ids: ids, k: k).ids
    }

    func complete(ids: [Int], maxTokens: Int) throws -> CompletionTiming {
        var options = GenerationOptions()
        options.maxTokens = maxTokens
        options.temperature = 0
        options.stopAtEndOfText = false
        let start = now()
        var first: Double?
        let generation = try engine.generate(ids: ids, options: options) { token in
            if token.id >= 0, first == nil { first = now() }
        }
        let end = now()
        return CompletionTiming(tokens: generation.ids.count, firstToken: (first ?? end) - start, total: end - start)
    }

    func connection() throws -> BenchTarget { self }
}
