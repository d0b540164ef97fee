import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a transport until SIGTERM/SIGINT, a `shutdown` request, or the end of its only client, then stops
/// in order: no new input, work cancelled (signals) or finished (shutdown), replies flushed, socket removed.
public enum ServerRunner {
    /// Serves until told to stop; returns the process exit status (0 after an orderly stop).
    /// Throws what `server.start` throws (e.g. `TransportError.alreadyRunning`).
    public static func run(
        _ server: TransportServer, service: LineService, options: TransportOptions = TransportOptions(),
        log: ServerLog, handleSignals: Bool = true
    ) throws -> Int32 {
        // A client that vanishes must surface as a failed write, not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        let trigger = StopTrigger(log: log)
        service.setShutdownHandler { trigger.fire(.shutdownRequest) }
        var sources: [DispatchSourceSignal] = []
        if handleSignals {
            for number in [SIGTERM, SIGINT] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { trigger.fire(.signal(number)) }
                source.resume()
                sources.append(source)
            }
        }
        try server.start(onEnd: { trigger.fire($0) })
        let reason = trigger.wait()
        log.info("shutting down (\(describe(reason)))")
        server.stopInput()
        if reason.cancelsWork { service.cancelAll() }
        service.waitUntilIdle()
        server.drain(timeout: options.drainTimeout)
        server.close()
        sources.forEach { $0.cancel() }
        log.info("stopped")
        return 0
    }

    private static func describe(_ reason: StopReason) -> String {
        switch reason {
        case let .signal(number): return number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)"
        case .shutdownRequest: return "shutdown requested"
        case let .clientGone(why): return why
        }
    }
}

/// The first reason to stop, handed from whichever thread saw it to the one waiting.
final class StopTrigger: @unchecked Sendable {
    private let condition = NSCondition()
    private var reason: StopReason?
    private let log: ServerLog

    init(log: ServerLog) { self.log = log }

    func fire(_ newReason: StopReason) {
        condition.lock()
        defer { condition.unlock() }
        if reason == nil {
            reason = newReason
            condition.broadcast()
        } else if case .signal = newReason, case .signal = reason {
            // A second signal while stopping: the user wants out now.
            log.error("second signal while stopping; exiting at once")
            _exit(1)
        }
    }

    func wait() -> StopReason {
        condition.lock(); defer { condition.unlock() }
        while reason == nil { condition.wait() }
        return reason!
    }
}
