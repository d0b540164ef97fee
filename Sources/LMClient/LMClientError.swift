import Foundation
import LMProtocol

/// What can go wrong talking to lmd, in words a user can act on.
public enum LMClientError: Error, CustomStringConvertible, Equatable {
    /// Nobody listens on the socket.
    case notRunning(socketPath: String)
    /// Connecting failed for another reason (permissions, path too long, …).
    case cannotConnect(socketPath: String, reason: String)
    /// The daemon closed the connection (or it broke) before answering.
    case connectionLost
    /// No answer within the time allowed.
    case timedOut(method: String, seconds: Double)
    /// The daemon answered with a JSON-RPC error.
    case rpc(code: Int, message: String, data: JSONValue?)
    /// The daemon sent something that is not a JSON-RPC message.
    case invalidReply(String)
    /// The client was closed.
    case closed
    /// Starting lmd failed.
    case cannotStart(String)

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case let .notRunning(path): return "lmd is not running (nothing listens on \(path))"
        case let .cannotConnect(path, reason): return "cannot connect to lmd at \(path): \(reason)"
        case .connectionLost: return "the connection to lmd was lost before it answered"
        case let .timedOut(method, seconds):
            return "lmd did not answer \(method) within \(String(format: "%g", seconds)) seconds"
        case let .rpc(code, message, _): return "lmd refused the request: \(message) (error \(code))"
        case let .invalidReply(why): return "lmd sent an invalid reply: \(why)"
        case .closed: return "the client was closed"
        case let .cannotStart(why): return "cannot start lmd: \(why)"
        }
    }
}
