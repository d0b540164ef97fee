// TEMPORARY: stands in for the proto helper's Dispatcher until branch `proto` is merged. Delete then.
import Foundation
import LMEngine

/// Receives a connection's outgoing lines.
public protocol ReplySink: AnyObject, Sendable {
    /// Sends one complete JSON text.
    @discardableResult func send(line: [UInt8]) -> Bool
}

/// Dispatcher limits.
public struct DispatcherOptions: Sendable {
    /// Prefix space.
    public var addPrefixSpace = false
    /// Per-session queue.
    public var maxQueuedPerSession = 256
    /// Total queue.
    public var maxQueuedTotal = 4096
    /// Token cap.
    public var maxTokensPerRequest: Int? = nil
    /// Defaults.
    public init() {}
}

/// Stub dispatcher.
public final class Dispatcher: @unchecked Sendable {
    /// Stub.
    public init(engine: Engine, options: DispatcherOptions = DispatcherOptions(), log: @escaping @Sendable (String) -> Void = { _ in }) {}
    /// Stub.
    public func openSession(sink: ReplySink) -> DispatcherSession { DispatcherSession(sink: sink) }
    /// Stub.
    public var onShutdownRequested: (@Sendable () -> Void)?
    /// Stub.
    public func cancelAll() {}
    /// Stub.
    public func waitUntilIdle() {}
}

/// Stub session.
public final class DispatcherSession: @unchecked Sendable {
    let sink: ReplySink
    init(sink: ReplySink) { self.sink = sink }
    /// Stub.
    public func receive(line: [UInt8]) {
        sink.send(line: Array(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"stub"}}"#.utf8))
    }
    /// Stub.
    public func close() {}
}
