import Foundation

/// Why a server stops.
public enum StopReason: Equatable, Sendable {
    /// SIGTERM or SIGINT: work in flight is cancelled (it still answers).
    case signal(Int32)
    /// A client asked with `shutdown`: work in flight finishes.
    case shutdownRequest
    /// The only client (stdio) closed its input or can no longer be served.
    case clientGone(String)

    /// Whether work in flight is cancelled rather than finished.
    public var cancelsWork: Bool {
        if case .signal = self { return true }
        return false
    }
}

/// A way of carrying lines between clients and a `LineService` (Unix socket or stdio).
public protocol TransportServer: AnyObject {
    /// Starts serving in the background; `onEnd` is called if the transport cannot go on by itself.
    func start(onEnd: @escaping @Sendable (StopReason) -> Void) throws
    /// Stops accepting connections and reading requests; replies still go out.
    func stopInput()
    /// Waits until every queued reply is written, or `timeout` passes.
    func drain(timeout: TimeInterval)
    /// Closes every connection and removes what `start` created (the socket file).
    func close()
}
