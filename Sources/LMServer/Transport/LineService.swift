import Foundation

/// One connection's view of the layer above the transport: lines in, replies out through a `ReplySink`.
public protocol LineSession: AnyObject {
    /// One framed line (without "\n"); must not block on slow work.
    func receive(line: [UInt8])
    /// The peer is gone: drop its work and send nothing more.
    func close()
}

/// What the transport serves: the dispatcher in lmd, a fake in tests.
public protocol LineService: AnyObject, Sendable {
    /// A session for a new connection whose replies go to `sink`.
    func openLineSession(sink: ReplySink) -> LineSession
    /// Ends queued and running work early (it still answers).
    func cancelAll()
    /// Blocks until nothing is queued or running.
    func waitUntilIdle()
    /// Sets what to call once a `shutdown` request has been answered.
    func setShutdownHandler(_ handler: @escaping @Sendable () -> Void)
}

extension DispatcherSession: LineSession {}

extension Dispatcher: LineService {
    /// A dispatcher session for a connection.
    public func openLineSession(sink: ReplySink) -> LineSession { openSession(sink: sink) }

    /// Routes the dispatcher's `shutdown` method to the transport.
    public func setShutdownHandler(_ handler: @escaping @Sendable () -> Void) { onShutdownRequested = handler }
}
