import Foundation

/// Limits that keep one client from hurting the others.
public struct TransportOptions: Sendable {
    /// The longest request line, in bytes; a longer one is answered -32600 and its connection closed.
    public var maxLineLength = LineFramer.defaultMaxLineLength
    /// Reply bytes a client may leave unread before it is dropped (one reply of any size always fits).
    public var maxOutgoingBytes = 64 << 20
    /// Connections served at once; more are closed as they arrive.
    public var maxConnections = 1024
    /// How long stopping waits for replies already answered to reach their clients.
    public var drainTimeout: TimeInterval = 5

    /// The defaults.
    public init() {}
}

/// Why the transport cannot serve.
public enum TransportError: Error, CustomStringConvertible, Equatable {
    /// Another daemon answers on the socket path.
    case alreadyRunning(path: String)
    /// Something that is not a socket sits at the path.
    case notASocket(path: String)
    /// A system call failed.
    case system(call: String, path: String, reason: String)

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case let .alreadyRunning(path):
            return "another lmd is already listening on \(path); stop it first (lmctl shutdown) or choose another --socket"
        case let .notASocket(path):
            return "\(path) exists and is not a socket; remove it or choose another --socket"
        case let .system(call, path, reason):
            return "\(call) failed for \(path): \(reason)"
        }
    }
}

/// The -32600 reply to an over-long line; written by hand because the line never reached the dispatcher.
func tooLongReply(limit: Int) -> [UInt8] {
    Array(
        #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request line is longer than \#(limit) bytes; the connection is closed"}}"#
            .utf8)
}
