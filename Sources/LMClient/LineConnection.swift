import Foundation
import LMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A connected Unix stream socket carrying newline-delimited lines: the raw layer under `LMClient`,
/// also handy for sending bytes exactly as given (tests, transcript replay).
public final class LineConnection: @unchecked Sendable {
    /// The socket's path.
    public let socketPath: String
    private let fd: Int32
    private let writeLock = NSLock()
    private let stateLock = NSLock()
    private var pending: [UInt8] = []
    private var pendingStart = 0
    /// Where the search for the next newline resumes (bytes before it hold none).
    private var scanFrom = 0
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)
    /// Set (under `stateLock`) once closing began: nothing more is shut down.
    private var isClosed = false
    /// Set (under `writeLock`) once the descriptor is released: nothing more is written.
    private var descriptorClosed = false

    /// Connects to `socketPath`; throws `LMClientError.notRunning` when nobody listens there.
    public init(socketPath: String) throws {
        self.socketPath = socketPath
        do {
            fd = try SocketPath.connect(socketPath)
        } catch let error as SocketPathError {
            if error.meansNobodyListening { throw LMClientError.notRunning(socketPath: socketPath) }
            throw LMClientError.cannotConnect(socketPath: socketPath, reason: "\(error)")
        }
    }

    deinit { close() }

    /// Writes `line` and a "\n" (the whole of it, blocking); throws `connectionLost` if the peer is gone.
    public func send(line: [UInt8]) throws {
        var framed = line
        framed.append(0x0A)
        try send(raw: framed)
    }

    /// Writes `bytes` exactly (no newline added).
    public func send(raw bytes: [UInt8]) throws {
        writeLock.lock(); defer { writeLock.unlock() }
        if descriptorClosed { throw LMClientError.connectionLost }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { throw LMClientError.connectionLost }
            }
        }
    }

    /// The next line (without "\n"); nil at end of stream. Throws `timedOut` after `timeout` seconds
    /// (nil: wait for ever) and `connectionLost` when reading fails. Only one thread may read.
    public func readLine(timeout: TimeInterval? = nil) throws -> [UInt8]? {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if let newline = pending[max(scanFrom, pendingStart)...].firstIndex(of: 0x0A) {
                let line = Array(pending[pendingStart..<newline])
                pendingStart = newline + 1
                scanFrom = pendingStart
                if pendingStart > 1 << 16 && pendingStart * 2 > pending.count {
                    pending.removeFirst(pendingStart)
                    pendingStart = 0
                    scanFrom = 0
                }
                return line
            }
            scanFrom = pending.count
            if let deadline {
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { throw LMClientError.timedOut(method: "read", seconds: timeout ?? 0) }
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, Int32(min(remaining * 1000 + 1, 60_000)))
                if ready < 0 && errno != EINTR { throw LMClientError.connectionLost }
                if ready <= 0 { continue }
            }
            if isClosedNow { return nil }
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if isClosedNow { return nil }
                throw LMClientError.connectionLost
            }
            if n == 0 {
                if pendingStart < pending.count { throw LMClientError.connectionLost }  // cut mid-line
                return nil
            }
            pending.append(contentsOf: chunk[0..<n])
        }
    }

    /// Stops sending (the daemon sees end of input) while still reading its answers.
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Shuts the socket both ways without releasing it: a `readLine` blocked in another thread returns nil,
    /// and that thread then calls `close()`.
    public func interrupt() {
        stateLock.lock(); defer { stateLock.unlock() }
        if !isClosed { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Closes the socket (call from the reading thread, or when no thread reads).
    public func close() {
        stateLock.lock(); defer { stateLock.unlock() }
        guard !isClosed else { return }
        isClosed = true
        // Shut first so that a writer blocked in send returns; release the number only when no writer holds it.
        shutdown(fd, Int32(SHUT_RDWR))
        writeLock.lock()
        descriptorClosed = true
        Glibc.close(fd)
        writeLock.unlock()
    }

    private var isClosedNow: Bool {
        stateLock.lock(); defer { stateLock.unlock() }
        return isClosed
    }
}
