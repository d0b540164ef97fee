import Foundation
import LMProtocol

/// A notification from the daemon (a message without an id), e.g. `complete/delta` while a completion streams.
public struct LMNotification: Sendable, Equatable {
    /// The method name.
    public var method: String
    /// Its params (null when absent).
    public var params: JSONValue
}

/// A JSON-RPC 2.0 client of lmd over its Unix socket. Thread-safe: calls from several threads share one
/// connection, and answers are matched to calls by id.
public final class LMClient: @unchecked Sendable {
    /// The socket's path.
    public let socketPath: String
    /// Seconds a call waits for its answer unless it says otherwise (nil: for ever).
    public let defaultTimeout: TimeInterval?
    /// Notifications no streaming call claimed (called on the reader thread).
    public var onNotification: (@Sendable (LMNotification) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return unclaimedHandler }
        set { lock.lock(); unclaimedHandler = newValue; lock.unlock() }
    }

    private let connection: LineConnection
    private let lock = NSLock()
    private var nextID = 1
    private var pending: [Int: PendingCall] = [:]
    private var lostReason: LMClientError?
    private var unclaimedHandler: (@Sendable (LMNotification) -> Void)?

    /// Connects to `socketPath` (default: `SocketPath.defaultPath()`); throws `LMClientError.notRunning`
    /// when no daemon listens there.
    public init(socketPath: String? = nil, timeout: TimeInterval? = 300) throws {
        self.socketPath = SocketPath.resolve(socketPath)
        self.defaultTimeout = timeout
        self.connection = try LineConnection(socketPath: self.socketPath)
        let thread = Thread { [connection, weak self] in
            Self.readLoop(connection: connection, client: { self })
        }
        thread.name = "lmclient-reader"
        thread.start()
    }

    deinit { connection.interrupt() }

    /// Calls `method` and returns its result; throws `LMClientError.rpc` for an error answer.
    public func call(_ method: String, params: JSONValue? = nil, timeout: TimeInterval? = nil) throws -> JSONValue {
        try call(method, params: params, timeout: timeout, onNotification: nil)
    }

    /// Calls `method`, handing each notification that belongs to it (e.g. `complete/delta`) to `onNotification`
    /// on the reader thread; every notification sent before the answer has been handed over when this returns.
    public func call(
        _ method: String, params: JSONValue?, timeout: TimeInterval? = nil,
        onNotification: (@Sendable (LMNotification) -> Void)?
    ) throws -> JSONValue {
        let call = PendingCall(method: method, onNotification: onNotification)
        lock.lock()
        if let lostReason { lock.unlock(); throw lostReason }
        let id = nextID
        nextID += 1
        pending[id] = call
        lock.unlock()

        var message: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { message["params"] = params }
        do {
            try connection.send(line: JSONValue.object(message).serialized())
        } catch {
            remove(id)
            throw error
        }
        let limit = timeout ?? defaultTimeout
        let arrived = limit.map { call.done.wait(timeout: .now() + $0) == .success } ?? { call.done.wait(); return true }()
        if !arrived {
            remove(id)
            // Best effort: the daemon need not finish work nobody waits for.
            try? notify("$/cancelRequest", params: ["id": .int(id)])
            throw LMClientError.timedOut(method: method, seconds: limit ?? 0)
        }
        return try call.outcome!.get()
    }

    /// The id the next call will use (so that a caller can name it, e.g. to cancel it from another thread).
    public var nextRequestID: Int {
        lock.lock(); defer { lock.unlock() }
        return nextID
    }

    /// Sends a notification (no answer expected).
    public func notify(_ method: String, params: JSONValue? = nil) throws {
        lock.lock()
        let lost = lostReason
        lock.unlock()
        if let lost { throw lost }
        var message: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { message["params"] = params }
        try connection.send(line: JSONValue.object(message).serialized())
    }

    /// Closes the connection; calls waiting fail with `closed`.
    public func close() {
        lock.lock()
        if lostReason == nil { lostReason = .closed }
        lock.unlock()
        connection.interrupt()
    }

    // MARK: - Reading

    private func remove(_ id: Int) {
        lock.lock()
        pending[id] = nil
        lock.unlock()
    }

    private static func readLoop(connection: LineConnection, client: () -> LMClient?) {
        while true {
            let line: [UInt8]?
            do { line = try connection.readLine() } catch { line = nil }
            guard let line, let client = client() else { break }
            client.handle(line: line)
        }
        connection.close()
        client()?.failAll(.connectionLost)
    }

    private func handle(line: [UInt8]) {
        guard let message = try? JSONValue.parse(line), let object = message.objectValue else {
            failAll(.invalidReply("not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))"))
            return
        }
        if let method = object["method"]?.stringValue, object["id"] == nil {
            deliver(LMNotification(method: method, params: object["params"] ?? .null))
            return
        }
        let outcome: Result<JSONValue, LMClientError>
        if let error = object["error"] {
            outcome = .failure(
                .rpc(
                    code: error["code"]?.intValue ?? 0, message: error["message"]?.stringValue ?? "(no message)",
                    data: error["data"]))
        } else if let result = object["result"] {
            outcome = .success(result)
        } else {
            outcome = .failure(.invalidReply("a response with neither result nor error"))
        }
        guard let id = object["id"]?.intValue else {
            // An error without an id (e.g. the request line was unreadable) concerns whatever is waiting.
            lock.lock()
            let all = pending.values
            pending = [:]
            lock.unlock()
            for call in all { call.finish(outcome) }
            return
        }
        lock.lock()
        let call = pending.removeValue(forKey: id)
        lock.unlock()
        call?.finish(outcome)
    }

    /// Hands a notification to the call it names (params.id or params.request_id), else to the only
    /// streaming call waiting, else to `onNotification`.
    private func deliver(_ notification: LMNotification) {
        lock.lock()
        var target: PendingCall?
        for key in ["id", "request_id"] {
            if let id = notification.params[key]?.intValue, let call = pending[id], call.onNotification != nil {
                target = call
                break
            }
        }
        if target == nil {
            let streaming = pending.values.filter { $0.onNotification != nil }
            if streaming.count == 1 { target = streaming[0] }
        }
        let fallback = unclaimedHandler
        lock.unlock()
        if let handler = target?.onNotification ?? fallback { handler(notification) }
    }

    private func failAll(_ error: LMClientError) {
        lock.lock()
        if lostReason == nil { lostReason = error }
        let reason = lostReason ?? error
        let all = pending.values
        pending = [:]
        lock.unlock()
        for call in all { call.finish(.failure(reason)) }
    }
}

/// One call waiting for its answer.
private final class PendingCall: @unchecked Sendable {
    let method: String
    let onNotification: (@Sendable (LMNotification) -> Void)?
    let done = DispatchSemaphore(value: 0)
    var outcome: Result<JSONValue, LMClientError>?

    init(method: String, onNotification: (@Sendable (LMNotification) -> Void)?) {
        self.method = method
        self.onNotification = onNotification
    }

    func finish(_ result: Result<JSONValue, LMClientError>) {
        outcome = result
        done.signal()
    }
}
