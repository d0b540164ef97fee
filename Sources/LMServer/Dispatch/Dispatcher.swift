import Foundation
import LMEngine
import LMProtocol

/// Where a session's replies go: the transport's side of one connection.
public protocol ReplySink: AnyObject, Sendable {
    /// Sends one complete JSON text (no trailing newline; the transport adds "\n"). Thread-safe.
    /// Returns false when the peer is gone or too slow (the transport dropped it).
    @discardableResult func send(line: [UInt8]) -> Bool
}

/// How the dispatcher behaves; the daemon's flags set these.
public struct DispatcherOptions: Sendable {
    /// The default of `add_prefix_space` when a request leaves it out.
    public var addPrefixSpace = false
    /// Requests one connection may have waiting (not yet running) before -32000.
    public var maxQueuedPerSession = 256
    /// Requests all connections together may have waiting before -32000.
    public var maxQueuedTotal = 4096
    /// The most `max_tokens` a `complete` may ask for (nil: no limit beyond the model's context).
    public var maxTokensPerRequest: Int? = nil
    /// Model requests computing at once; the engine batches them into shared forward passes.
    public var maxConcurrentModelRequests = 8
    /// Log each request's timings (lmd sets it with `--log-level debug`); off, nothing is formatted.
    public var logsTimings = false

    /// Defaults.
    public init() {}
}

/// Turns request lines into engine work and replies. Model work runs on its lane, up to
/// `maxConcurrentModelRequests` at once so that the engine can batch them (tokenizer-only work on a second
/// lane); `info`, `shutdown` and `$/cancelRequest` are answered on the receiving thread without waiting.
public final class Dispatcher: @unchecked Sendable {
    let engine: DispatchEngine
    let options: DispatcherOptions
    let log: @Sendable (String) -> Void
    let methods: [String: MethodSpec]
    let modelLane: WorkLane
    let textLane = WorkLane(name: "text")

    /// Guards every mutable field of the dispatcher, its sessions and its jobs; signalled when work ends.
    let state = NSCondition()
    /// Jobs accepted whose reply has not yet been handed to the sink (what `waitUntilIdle` waits for).
    var activeJobs = 0
    /// Jobs waiting on a lane, all sessions together.
    var queuedTotal = 0
    var shuttingDown = false
    var sessionCounter = 0
    var shutdownHook: (@Sendable () -> Void)? = nil
    var shutdownHookCalled = false

    /// A dispatcher over a loaded engine.
    public convenience init(engine: Engine, options: DispatcherOptions = DispatcherOptions(),
                            log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(backend: engine, options: options, log: log)
    }

    /// A dispatcher over any engine-like backend, with a method table (tests add methods).
    init(backend: DispatchEngine, options: DispatcherOptions = DispatcherOptions(),
         log: @escaping @Sendable (String) -> Void = { _ in }, methods: [MethodSpec] = MethodTable.all) {
        self.engine = backend
        self.options = options
        self.log = log
        self.methods = MethodTable.index(methods)
        self.modelLane = WorkLane(name: "model", concurrency: options.maxConcurrentModelRequests)
    }

    /// A session for one connection; its replies go to `sink`.
    public func openSession(sink: ReplySink) -> DispatcherSession {
        state.lock()
        sessionCounter += 1
        let number = sessionCounter
        state.unlock()
        return DispatcherSession(dispatcher: self, sink: sink, number: number)
    }

    /// Called once, on a thread of its own, after `shutdown`'s reply (null) has been sent. Set by the transport;
    /// it may block (e.g. in `waitUntilIdle`).
    public var onShutdownRequested: (@Sendable () -> Void)? {
        get { state.lock(); defer { state.unlock() }; return shutdownHook }
        set { state.lock(); shutdownHook = newValue; state.unlock() }
    }

    /// Whether `shutdown` has been received (new model and tokenizer work is then refused with -32000).
    public var isShuttingDown: Bool {
        state.lock(); defer { state.unlock() }
        return shuttingDown
    }

    /// Cancels everything (SIGTERM): queued and running work of every session answers -32800.
    public func cancelAll() {
        let reason = "the server is stopping"
        state.lock()
        var removed: [Job] = []
        var runningCount = 0
        for lane in [modelLane, textLane] {
            for job in lane.pending { detachQueued(job); removed.append(job) }
            lane.pending.removeAll()
            for running in lane.running where running.phase == .running {
                markCancelled(running, reason: reason)
                runningCount += 1
            }
        }
        state.unlock()
        log("cancelling all work (\(removed.count) queued, \(runningCount) running): \(reason)")
        for job in removed { answerCancelledWhileQueued(job, reason: reason) }
    }

    /// Blocks until no request is queued or running and every reply has been handed to its sink.
    public func waitUntilIdle() {
        state.lock()
        while activeJobs > 0 { state.wait() }
        state.unlock()
    }

    // MARK: internals shared with sessions (the caller holds `state` where noted)

    func lane(_ l: MethodLane) -> WorkLane {
        switch l {
        case .model: return modelLane
        case .text: return textLane
        }
    }

    /// Accepts a job or says why not. Caller holds `state`.
    func admit(_ job: Job) -> RPCError? {
        let session = job.session
        if shuttingDown {
            return RPCError(.serverBusy, "Server busy: the server is shutting down", data: ["reason": "shutting down"])
        }
        if session.inFlight[job.id] != nil {
            return .invalidRequest("id \(job.id) is already used by a request in flight on this connection")
        }
        if session.queuedCount >= options.maxQueuedPerSession {
            return .serverBusy(limit: options.maxQueuedPerSession, scope: "connection")
        }
        if queuedTotal >= options.maxQueuedTotal {
            return .serverBusy(limit: options.maxQueuedTotal, scope: "server")
        }
        job.lane.pending.append(job)
        session.inFlight[job.id] = job
        session.queuedCount += 1
        queuedTotal += 1
        activeJobs += 1
        return nil
    }

    /// Schedules one run of the lane's oldest job (one call per admitted job keeps every job served).
    /// A lane that runs several jobs at once gives each its own thread: libdispatch runs only about as
    /// many blocking blocks at once as there are cores, which would keep the engine from batching more.
    func schedule(_ lane: WorkLane) {
        if lane.concurrency > 1 {
            // With every slot busy, a finishing job starts the next one itself (see runNext): no thread
            // is made per queued request, which matters for a batch of thousands.
            state.lock()
            let full = lane.running.count >= lane.concurrency
            state.unlock()
            if full { return }
            let thread = Thread { [self] in runNext(on: lane) }
            thread.name = "lmd-\(lane.name)"
            thread.start()
        } else {
            lane.queue.async { [self] in runNext(on: lane) }
        }
    }

    /// Takes a queued job off the books; the caller removes it from its lane's list. Caller holds `state`.
    func detachQueued(_ job: Job) {
        job.phase = .finished
        job.session.queuedCount -= 1
        queuedTotal -= 1
        if job.session.inFlight[job.id] === job { job.session.inFlight[job.id] = nil }
    }

    /// Sets a running job's cancellation flag. Caller holds `state`.
    func markCancelled(_ job: Job, reason: String) {
        if job.cancelReason == nil { job.cancelReason = reason }
        job.cancel.cancel()
    }

    /// Replies -32800 to a job removed from its lane, then lets it go.
    func answerCancelledWhileQueued(_ job: Job, reason: String) {
        job.session.deliver(RPCResponse.failure(id: job.id, error: .requestCancelled(reason)).serialized(), route: job.route)
        jobEnded()
    }

    /// Counts a job out once its reply has been handed over.
    func jobEnded() {
        state.lock()
        activeJobs -= 1
        state.broadcast()
        state.unlock()
    }

    /// Runs the lane's oldest job, if any is still waiting.
    private func runNext(on lane: WorkLane) {
        // A job that found every slot taken when it was scheduled starts when one frees: the thread that
        // frees it goes on with the queue (a loop, not recursion, so a long queue cannot grow the stack).
        while runOne(on: lane), lane.concurrency > 1 {}
    }

    /// Runs the lane's oldest job if a slot is free; returns whether jobs are still waiting afterwards.
    private func runOne(on lane: WorkLane) -> Bool {
        state.lock()
        guard !lane.pending.isEmpty, lane.running.count < lane.concurrency else { state.unlock(); return false }
        let job = lane.pending.removeFirst()
        job.phase = .running
        lane.running.append(job)
        job.session.queuedCount -= 1
        queuedTotal -= 1
        state.unlock()

        let session = job.session
        let context = JobContext(requestID: job.id, cancel: job.cancel) { notification in
            session.deliverNotification(notification)
        }
        var outcome: Result<any WireResult, RPCError>
        var partial: JSONValue? = nil
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            outcome = .success(try job.work(context))
        } catch let p as PartialCancellation {
            partial = p.partial
            outcome = .failure(.requestCancelled())
        } catch {
            outcome = .failure(EngineErrorMapping.rpcError(error, inputParam: job.inputParam))
        }

        state.lock()
        job.phase = .finished
        if session.inFlight[job.id] === job { session.inFlight[job.id] = nil }
        let cancelReason = job.cancelReason
        state.unlock()

        // Once a cancel has been taken in, the answer is -32800 even if the work had just finished.
        if let cancelReason {
            outcome = .failure(.requestCancelled(cancelReason, data: partial.map { ["partial": $0] }))
        }
        let line: [UInt8]
        switch outcome {
        case let .success(result):
            line = RPCResponse.serializedSuccess(id: job.id, result: result)
        case let .failure(error):
            if error.knownCode == .internalError { log("session \(session.number): \(job.method) \(job.id) failed: \(error.message)") }
            line = RPCResponse.failure(id: job.id, error: error).serialized()
        }
        session.deliver(line, route: job.route)
        if options.logsTimings {
            let ended = DispatchTime.now().uptimeNanoseconds
            func ms(_ from: UInt64, _ to: UInt64) -> String { String(format: "%.2f", Double(to &- from) / 1e6) }
            log("session \(session.number): \(job.method) \(job.id) answered in \(ms(job.accepted, ended)) ms "
                + "(waited \(ms(job.accepted, started)), computed \(ms(started, ended)))")
        }

        state.lock()
        lane.running.removeAll { $0 === job }
        activeJobs -= 1
        let more = !lane.pending.isEmpty
        state.broadcast()
        state.unlock()
        return more
    }

    /// Refuses new work from now on (the `shutdown` request itself is still answered).
    func beginShutdown() {
        state.lock()
        let first = !shuttingDown
        shuttingDown = true
        state.unlock()
        if first { log("shutdown requested") }
    }

    /// Calls the transport's hook, once, after `shutdown`'s reply has been sent. It runs on its own thread:
    /// the caller may be a lane finishing a batch, and a hook that waits for idleness must not block it.
    func callShutdownHook() {
        state.lock()
        let hook = shutdownHookCalled ? nil : shutdownHook
        shutdownHookCalled = true
        state.unlock()
        if let hook { DispatchQueue.global().async { hook() } }
    }
}
