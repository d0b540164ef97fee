import Foundation

/// The benchmark's cases, run in the same order with the same prompts against any target.
struct Scenarios {
    let prompts: PromptSet
    let plan: RunPlan
    /// How many tokens `topk` asks for.
    let k = 10
    /// Progress lines go here (stderr), so that stdout stays the table or JSON.
    let progress: (String) -> Void

    static let same = CaseName(key: "topk_same_prompt", title: "topk, same short prompt (median / p90)")
    static let fresh = CaseName(key: "topk_fresh_4_words", title: "topk, fresh 4-word prompt (median / p90)")
    static func prefill(_ n: Int) -> CaseName { CaseName(key: "prefill_\(n)", title: "prefill \(n) tokens") }
    static func decode(_ n: Int) -> CaseName { CaseName(key: "decode_\(n)", title: "decode, \(n) greedy tokens") }
    static func firstToken(_ n: Int) -> CaseName {
        CaseName(key: "decode_\(n)_first_token", title: "  first token of that (median)")
    }
    static func wholeCompletion(_ n: Int) -> CaseName {
        CaseName(key: "complete_\(n)_total", title: "  whole completion, request to result (median)")
    }
    static let long = CaseName(key: "topk_fresh_450", title: "topk, fresh 450-token prompt (median / p90)")
    static let typingStart = CaseName(key: "typing_context", title: "typing: 450-token context, first topk")
    static let typing = CaseName(key: "typing_keystroke", title: "typing: +1 word, topk (median / p90)")
    var concurrentTopK: CaseName { CaseName(key: "concurrent_topk", title: "\(plan.clients) clients, topk on fresh prompts") }
    var concurrentComplete: CaseName {
        CaseName(key: "concurrent_complete_32", title: "\(plan.clients) clients, 32-token completions")
    }
    static let concurrentTokens = CaseName(key: "concurrent_complete_32_tokens", title: "  generated tokens of that")

    /// Runs every case against `target`.
    func run(_ target: BenchTarget, into results: inout TargetResults) throws {
        // One throwaway request, so that thread start-up and first-touch page faults are not timed.
        _ = try target.topK(ids: prompts.same + prompts.same, k: k)

        progress("topk, same prompt ×\(plan.latencyRuns)")
        results.sameTop = try target.topK(ids: prompts.same, k: k)
        var same = Samples()
        for _ in 0..<plan.latencyRuns { same.append(try timed { try target.topK(ids: prompts.same, k: k) }.1) }
        results.record(Self.same, .latency(same))

        progress("topk, fresh 4-word prompts ×\(prompts.fresh.count)")
        var fresh = Samples()
        for ids in prompts.fresh { fresh.append(try timed { try target.topK(ids: ids, k: k) }.1) }
        results.record(Self.fresh, .latency(fresh))

        for length in PromptSet.prefillLengths {
            let runs = prompts.prefill[length] ?? []
            guard !runs.isEmpty else {
                results.record(Self.prefill(length), .skipped("context too short"))
                continue
            }
            progress("prefill \(length) ×\(runs.count)")
            var samples = Samples()
            for ids in runs { samples.append(try timed { try target.topK(ids: ids, k: k) }.1) }
            results.record(Self.prefill(length), .rate(Double(length) / samples.median, unit: "tok/s"))
        }

        for (length, runs) in [(32, prompts.decode32), (256, prompts.decode256)] {
            progress("decode \(length) ×\(runs.count)")
            var rates: [Double] = [], firsts = Samples(), totals = Samples(), short = 0
            for ids in runs {
                let timing = try target.complete(ids: ids, maxTokens: length)
                if let rate = timing.decodeRate { rates.append(rate) }
                firsts.append(timing.firstToken)
                totals.append(timing.total)
                if timing.tokens < length { short += 1 }
            }
            rates.sort()
            if rates.isEmpty {
                results.record(Self.decode(length), .skipped("no tokens made"))
            } else {
                let unit = short > 0 ? "tok/s (\(short) stopped early)" : "tok/s"
                results.record(Self.decode(length), .rate(rates[rates.count / 2], unit: unit))
            }
            results.record(Self.firstToken(length), .seconds(firsts.median))
            results.record(Self.wholeCompletion(length), .seconds(totals.median))
        }

        if prompts.long.isEmpty {
            results.record(Self.long, .skipped("context too short"))
        } else {
            progress("topk, fresh 450-token prompts ×\(prompts.long.count)")
            var long = Samples()
            for ids in prompts.long { long.append(try timed { try target.topK(ids: ids, k: k) }.1) }
            results.record(Self.long, .latency(long))
        }

        if prompts.typingContext.isEmpty {
            results.record(Self.typing, .skipped("context too short"))
        } else {
            progress("typing: 450-token context, then \(prompts.typingWords.count) words")
            var context = prompts.typingContext
            results.record(Self.typingStart, .seconds(try timed { try target.topK(ids: context, k: k) }.1))
            var keystrokes = Samples()
            for word in prompts.typingWords {
                context += word
                keystrokes.append(try timed { try target.topK(ids: context, k: k) }.1)
            }
            results.record(Self.typing, .latency(keystrokes))
        }

        progress("\(plan.clients) concurrent clients: topk, then 32-token completions")
        let topkRun = try concurrently(target) { client, ids in _ = try client.topK(ids: ids, k: self.k); return 1 }
        results.record(concurrentTopK, .rate(topkRun.requests / topkRun.seconds, unit: "req/s"))
        let completeRun = try concurrently(target) { client, ids in try client.complete(ids: ids, maxTokens: 32).tokens }
        results.record(concurrentComplete, .rate(completeRun.requests / completeRun.seconds, unit: "req/s"))
        results.record(Self.concurrentTokens, .rate(completeRun.units / completeRun.seconds, unit: "tok/s"))
    }

    /// Runs each client's prompts through `request` on its own thread and connection, all started
    /// together; returns the requests made, the units `request` counted, and the wall time.
    private func concurrently(
        _ target: BenchTarget, _ request: @escaping (BenchTarget, [Int]) throws -> Int
    ) throws -> (requests: Double, units: Double, seconds: Double) {
        let clients = try prompts.concurrent.map { _ in try target.connection() }
        let group = DispatchGroup()
        let tally = Tally()
        let start = now()
        for (client, list) in zip(clients, prompts.concurrent) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                for ids in list {
                    do {
                        tally.add(units: try request(client, ids))
                    } catch {
                        tally.fail(error)
                        return
                    }
                }
            }
            thread.start()
        }
        group.wait()
        let seconds = now() - start
        if let failure = tally.failure { throw failure }
        return (Double(tally.requests), Double(tally.units), seconds)
    }
}

/// Counts shared by the concurrent clients' threads.
private final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var unitCount = 0, requestCount = 0
    private var firstFailure: Error?

    func add(units: Int) { lock.lock(); unitCount += units; requestCount += 1; lock.unlock() }
    func fail(_ error: Error) { lock.lock(); firstFailure = firstFailure ?? error; lock.unlock() }
    var units: Int { lock.lock(); defer { lock.unlock() }; return unitCount }
    var requests: Int { lock.lock(); defer { lock.unlock() }; return requestCount }
    var failure: Error? { lock.lock(); defer { lock.unlock() }; return firstFailure }
}
