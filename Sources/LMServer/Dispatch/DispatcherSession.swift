import Foundation
import LMEngine
import LMProtocol

/// One connection's view of the dispatcher: lines in, replies out through its sink.
public final class DispatcherSession: @unchecked Sendable {
    let dispatcher: Dispatcher
    let sink: ReplySink
    /// A number for log lines.
    let number: Int
    // Guarded by the dispatcher's lock:
    var closed = false
    var inFlight: [RPCID: Job] = [:]
    var queuedCount = 0

    init(dispatcher: Dispatcher, sink: ReplySink, number: Int) {
        self.dispatcher = dispatcher
        self.sink = sink
        self.number = number
    }

    /// Handles one framed line (without "\n"). Never waits for engine work; replies go to the sink.
    public func receive(line: [UInt8]) {
        if isClosed { return }
        switch RPCIncoming.decode(line: line) {
        case let .single(entry):
            handle(entry, route: .single)
        case let .batch(entries):
            let replies = entries.filter { if case let .success(r) = $0 { return r.id != nil } else { return true } }.count
            let batch = replies > 0 ? BatchReply(count: replies) : nil
            var slot = 0
            for entry in entries {
                let needsReply: Bool
                if case let .success(r) = entry { needsReply = r.id != nil } else { needsReply = true }
                if needsReply, let batch {
                    handle(entry, route: .batch(batch, index: slot))
                    slot += 1
                } else {
                    handle(entry, route: nil)
                }
            }
        }
    }

    /// The peer hung up: cancels this connection's queued and running work and sends nothing more.
    public func close() {
        let d = dispatcher
        d.state.lock()
        guard !closed else { d.state.unlock(); return }
        closed = true
        var removed: [Job] = []
        for job in inFlight.values {
            switch job.phase {
            case .queued:
                job.lane.pending.removeAll { $0 === job }
                d.detachQueued(job)
                removed.append(job)
            case .running:
                d.markCancelled(job, reason: "the connection closed")
            case .finished:
                break
            }
        }
        d.state.unlock()
        d.log("session \(number) closed\(removed.isEmpty ? "" : ", \(removed.count) queued requests dropped")")
        // Their replies are dropped by `deliver`, but batch bookkeeping still runs.
        for job in removed { d.answerCancelledWhileQueued(job, reason: "the connection closed") }
    }

    var isClosed: Bool {
        dispatcher.state.lock(); defer { dispatcher.state.unlock() }
        return closed
    }

    // MARK: handling

    /// `route` nil: a notification, which gets no reply.
    private func handle(_ entry: Result<RPCRequest, RPCInvalidMessage>, route: ReplyRoute?) {
        let request: RPCRequest
        switch entry {
        case let .failure(invalid):
            if let route { deliver(invalid.response.serialized(), route: route) }
            return
        case let .success(r):
            request = r
        }
        let d = dispatcher
        guard let spec = d.methods[request.method] else {
            if let id = request.id, let route {
                deliver(RPCResponse.failure(id: id, error: .methodNotFound(request.method)).serialized(), route: route)
            } else {
                d.log("session \(number): ignoring notification of unknown method \(request.method)")
            }
            return
        }
        guard let id = request.id, let route else {
            if spec.runsAsNotification {
                runNotification(request, spec: spec)
            } else {
                d.log("session \(number): ignoring \(request.method) sent as a notification (it has no effect but its reply)")
            }
            return
        }

        let prepared: PreparedCall
        do {
            prepared = try spec.prepare(request.params, environment(for: id))
        } catch {
            deliver(RPCResponse.failure(id: id, error: error).serialized(), route: route)
            return
        }
        switch prepared {
        case let .immediate(result, afterReply):
            let line = RPCResponse.success(id: id, result: result).serialized()
            if let afterReply, case let .batch(batch, _) = route { batch.addAfterSend(afterReply) }
            deliver(line, route: route)
            if let afterReply, case .single = route { afterReply() }
        case let .queued(laneKind, inputParam, work):
            let lane = d.lane(laneKind)
            let job = Job(session: self, id: id, method: request.method, inputParam: inputParam, lane: lane, route: route, work: work)
            d.state.lock()
            let refusal: RPCError? = closed ? nil : d.admit(job)
            let wasClosed = closed
            d.state.unlock()
            if wasClosed { return }
            if let refusal {
                deliver(RPCResponse.failure(id: id, error: refusal).serialized(), route: route)
            } else {
                d.schedule(lane)
            }
        }
    }

    private func runNotification(_ request: RPCRequest, spec: MethodSpec) {
        do {
            if case let .immediate(_, afterReply) = try spec.prepare(request.params, environment(for: nil)) {
                afterReply?()
            }
        } catch {
            dispatcher.log("session \(number): bad \(request.method) notification: \(error.message)")
        }
    }

    private func environment(for id: RPCID?) -> MethodEnvironment {
        let d = dispatcher
        return MethodEnvironment(
            engine: d.engine, options: d.options, requestID: id,
            cancelRequest: { [self] target in cancel(target, reason: "cancelled by $/cancelRequest") },
            beginShutdown: { d.beginShutdown() },
            afterShutdownReply: { d.callShutdownHook() })
    }

    /// Cancels request `id` of this session: a queued one answers -32800 now, a running one stops and answers -32800.
    func cancel(_ id: RPCID, reason: String) {
        let d = dispatcher
        d.state.lock()
        guard let job = inFlight[id] else {
            d.state.unlock()
            d.log("session \(number): nothing to cancel for id \(id) (unknown or already answered)")
            return
        }
        switch job.phase {
        case .queued:
            job.lane.pending.removeAll { $0 === job }
            d.detachQueued(job)
            d.state.unlock()
            d.answerCancelledWhileQueued(job, reason: reason)
        case .running:
            d.markCancelled(job, reason: reason)
            d.state.unlock()
        case .finished:
            d.state.unlock()
        }
    }

    // MARK: output

    /// Sends a reply along its route (dropped once the session is closed; batch bookkeeping still runs).
    func deliver(_ reply: [UInt8], route: ReplyRoute) {
        switch route {
        case .single:
            send(reply)
        case let .batch(batch, index):
            if let (line, hooks) = batch.fill(index, with: reply) {
                send(line)
                for hook in hooks { hook() }
            }
        }
    }

    /// Sends a notification (e.g. `complete/delta`).
    func deliverNotification(_ notification: RPCRequest) {
        send(notification.json.serialized())
    }

    private func send(_ line: [UInt8]) {
        if isClosed { return }
        if !sink.send(line: line) {
            dispatcher.log("session \(number): the peer is gone or too slow; closing")
            close()
        }
    }
}
