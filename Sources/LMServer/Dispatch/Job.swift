import Foundation
import LMEngine
import LMProtocol

/// One queued request, from the moment it is accepted until its reply has been handed to the sink.
/// Mutable fields are guarded by the dispatcher's lock.
final class Job: @unchecked Sendable {
    /// Where a job is in its life.
    enum Phase {
        /// Waiting on its lane.
        case queued
        /// Computing.
        case running
        /// Answered (or being answered).
        case finished
    }

    let session: DispatcherSession
    let id: RPCID
    let method: String
    let inputParam: String
    let lane: WorkLane
    let route: ReplyRoute
    let work: @Sendable (JobContext) throws -> any WireResult
    let cancel = CancellationFlag()
    var phase = Phase.queued
    /// Why the job was cancelled, once it is.
    var cancelReason: String? = nil
    /// When the request was accepted (monotonic nanoseconds), for the debug log's timings.
    let accepted = DispatchTime.now().uptimeNanoseconds

    init(
        session: DispatcherSession, id: RPCID, method: String, inputParam: String, lane: WorkLane, route: ReplyRoute,
        work: @escaping @Sendable (JobContext) throws -> any WireResult
    ) {
        self.session = session
        self.id = id
        self.method = method
        self.inputParam = inputParam
        self.lane = lane
        self.route = route
        self.work = work
    }
}

/// A lane: its jobs start in order, at most `concurrency` at a time (one at a time on its own serial
/// dispatch queue, or each on a thread of its own). The model lane lets several run at once so that the
/// engine can batch them into shared forward passes.
final class WorkLane: @unchecked Sendable {
    let name: String
    let queue: DispatchQueue
    /// How many of its jobs may run at once.
    let concurrency: Int
    /// Jobs waiting, oldest first (guarded by the dispatcher's lock).
    var pending: [Job] = []
    /// The jobs computing now (guarded by the dispatcher's lock).
    var running: [Job] = []

    init(name: String, concurrency: Int = 1) {
        self.name = name
        self.concurrency = max(1, concurrency)
        self.queue = DispatchQueue(label: "lmd.dispatch.\(name)", qos: .userInitiated)
    }
}

/// Where a request's reply goes: alone on a line, or into a slot of its batch's reply.
enum ReplyRoute {
    /// A line of its own.
    case single
    /// Slot `index` of a batch reply.
    case batch(BatchReply, index: Int)
}

/// Collects the replies of one batch and sends them as one array when the last arrives.
final class BatchReply: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [[UInt8]?]
    private var remaining: Int
    private var afterSend: [@Sendable () -> Void] = []

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
        remaining = count
    }

    /// Runs `hook` after the batch reply has been sent.
    func addAfterSend(_ hook: @escaping @Sendable () -> Void) {
        lock.lock()
        afterSend.append(hook)
        lock.unlock()
    }

    /// Stores one reply; returns the whole batch's line and its hooks when this was the last.
    func fill(_ index: Int, with reply: [UInt8]) -> (line: [UInt8], hooks: [@Sendable () -> Void])? {
        lock.lock()
        defer { lock.unlock() }
        guard slots.indices.contains(index), slots[index] == nil else { return nil }
        slots[index] = reply
        remaining -= 1
        guard remaining == 0 else { return nil }
        var line: [UInt8] = [UInt8(ascii: "[")]
        line.reserveCapacity(slots.reduce(2) { $0 + ($1?.count ?? 0) + 1 })
        for (k, s) in slots.enumerated() {
            if k > 0 { line.append(UInt8(ascii: ",")) }
            line.append(contentsOf: s ?? [])
        }
        line.append(UInt8(ascii: "]"))
        slots = []
        let hooks = afterSend
        afterSend = []
        return (line, hooks)
    }
}
