import Foundation
import GPT2

/// One sequence's work as the scheduler sees it: tokens to run next, and what to do with their logits.
final class SequenceJob: @unchecked Sendable {
    /// The sequence's cache (exclusively this job's while it runs).
    let cache: KVCache
    /// Tokens to run at the next step.
    var feed: [Int]
    /// Which logits the step returns.
    var rows: LogitRows
    /// Set by the caller to stop the job between steps.
    let cancel: CancellationFlag?
    /// Called on the scheduler's thread with each step's logits; returns the next tokens, or nil when done.
    /// Released when the job finishes, before its caller wakes (it may capture the caller's closures).
    private(set) var step: (([Float]) throws -> [Int]?)?
    /// Why the job ended early, if it did.
    fileprivate(set) var failure: Error?
    fileprivate let done = DispatchSemaphore(value: 0)

    fileprivate func releaseStep() { step = nil }

    init(cache: KVCache, feed: [Int], rows: LogitRows, cancel: CancellationFlag?, step: @escaping ([Float]) throws -> [Int]?) {
        self.cache = cache; self.feed = feed; self.rows = rows; self.cancel = cancel; self.step = step
    }
}

/// Runs every sequence that is ready in one forward pass per step, so that concurrent requests read the
/// weights once per step for all of them (continuous batching: jobs join and leave between steps).
final class BatchScheduler: @unchecked Sendable {
    private let model: GPT2Model
    private let maxRowsPerStep: Int
    private let condition = NSCondition()
    private var ready: [SequenceJob] = []
    private var stopped = false

    /// Steps run and sequences they carried, for benchmarks.
    private(set) var steps = 0
    private(set) var sequencesStepped = 0

    /// A scheduler with its own thread over `model`; a step stacks jobs up to `maxRowsPerStep` new tokens
    /// (a single longer job still runs, alone).
    init(model: GPT2Model, maxRowsPerStep: Int) {
        self.model = model
        self.maxRowsPerStep = max(1, maxRowsPerStep)
        // The thread keeps the scheduler alive until `stop()` ends its loop (the scheduler does not keep the
        // thread, so there is no cycle); an unowned capture could outlive a released engine.
        let thread = Thread { self.loop() }
        thread.name = "lmd-compute"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs the jobs to completion (together with whatever else is ready) and returns when all are done.
    /// The first failure among them is thrown.
    func run(_ jobs: [SequenceJob]) throws {
        condition.lock()
        ready.append(contentsOf: jobs)
        condition.signal()
        condition.unlock()
        for job in jobs { job.done.wait() }
        if let failure = jobs.lazy.compactMap(\.failure).first { throw failure }
    }

    /// Stops the thread once the jobs already queued are done.
    func stop() {
        condition.lock(); stopped = true; condition.signal(); condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while ready.isEmpty && !stopped { condition.wait() }
            if ready.isEmpty && stopped { condition.unlock(); return }
            // Oldest first, as many as fit the step's row budget.
            var batch: [SequenceJob] = [], rows = 0
            while let job = ready.first, batch.isEmpty || rows + job.feed.count <= maxRowsPerStep {
                ready.removeFirst()
                batch.append(job)
                rows += job.feed.count
            }
            condition.unlock()
            runStep(batch)
        }
    }

    private func runStep(_ jobs: [SequenceJob]) {
        var live: [SequenceJob] = []
        for job in jobs {
            if job.cancel?.isCancelled == true { finish(job, EngineError.cancelled) } else { live.append(job) }
        }
        guard !live.isEmpty else { return }
        let outputs: [[Float]]
        do {
            outputs = try model.forward(
                batch: live.map { SequenceStep(tokens: $0.feed, cache: $0.cache, logits: $0.rows) },
                isCancelled: { live.allSatisfy { $0.cancel?.isCancelled == true } })
        } catch {
            for job in live { finish(job, Engine.mapModelError(error)) }
            return
        }
        steps += 1
        sequencesStepped += live.count
        var continuing: [SequenceJob] = []
        for (job, logits) in zip(live, outputs) {
            do {
                if let next = try job.step?(logits), !next.isEmpty {
                    job.feed = next
                    continuing.append(job)
                } else {
                    finish(job, nil)
                }
            } catch {
                finish(job, error)
            }
        }
        if !continuing.isEmpty {
            condition.lock()
            // Continuing jobs go first, so that a stream of new requests cannot starve them.
            ready.insert(contentsOf: continuing, at: 0)
            condition.unlock()
        }
    }

    private func finish(_ job: SequenceJob, _ failure: Error?) {
        job.failure = failure
        job.releaseStep()
        job.done.signal()
    }
}
