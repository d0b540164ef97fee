import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client's socket: replies are written straight away when the socket takes them and otherwise queued
/// (up to a bound) for the I/O thread, so that no dispatcher thread ever waits on a slow reader.
final class SocketConnection: ReplySink, @unchecked Sendable {
    /// A number for the log.
    let id: Int
    /// The socket (non-blocking); closed only by the I/O thread, after `shut` under the lock.
    let fd: Int32
    private let maxOutgoingBytes: Int
    private let wake: @Sendable () -> Void

    private let lock = NSLock()
    private var outgoing: [UInt8] = []
    private var outgoingOffset = 0
    private var shut = false
    private var dropReason: String?

    // Touched only by the I/O thread.
    var session: LineSession?
    var framer: LineFramer
    /// The peer sent EOF (it may still read).
    var inputEnded = false
    /// After an over-long line: input is discarded up to the next newline, then the connection closes.
    var discardingUntilNewline = false
    var discardedBytes = 0
    /// Close as soon as the queued replies are written.
    var closeWhenDrained = false

    init(id: Int, fd: Int32, maxLineLength: Int, maxOutgoingBytes: Int, wake: @escaping @Sendable () -> Void) {
        self.id = id
        self.fd = fd
        self.framer = LineFramer(maxLineLength: maxLineLength)
        self.maxOutgoingBytes = maxOutgoingBytes
        self.wake = wake
    }

    /// Queues one line (+ "\n"); false when the connection is closed or was just dropped for not reading.
    @discardableResult
    func send(line: [UInt8]) -> Bool {
        lock.lock()
        if shut || dropReason != nil { lock.unlock(); return false }
        let waiting = outgoing.count - outgoingOffset
        if waiting > maxOutgoingBytes {
            dropReason = "it left \(waiting) reply bytes unread"
            lock.unlock()
            wake()
            return false
        }
        outgoing.append(contentsOf: line)
        outgoing.append(0x0A)
        if waiting == 0 { writeLocked() }
        let needsPoll = outgoing.count > outgoingOffset || dropReason != nil
        lock.unlock()
        if needsPoll { wake() }
        return true
    }

    /// Writes what the socket takes now (called by the I/O thread on POLLOUT).
    func flush() {
        lock.lock()
        writeLocked()
        lock.unlock()
    }

    /// Whether replies are waiting for the socket to take them.
    var hasPendingOutput: Bool {
        lock.lock(); defer { lock.unlock() }
        return !shut && dropReason == nil && outgoing.count > outgoingOffset
    }

    /// Why the connection must go (a write failed or the client does not read), if it must.
    var failure: String? {
        lock.lock(); defer { lock.unlock() }
        return dropReason
    }

    /// Stops all writing; afterwards the I/O thread may close the descriptor.
    func shutForWriting() {
        lock.lock()
        shut = true
        outgoing = []
        outgoingOffset = 0
        lock.unlock()
    }

    private func writeLocked() {
        guard !shut, dropReason == nil else { return }
        while outgoingOffset < outgoing.count {
            let n = outgoing.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + outgoingOffset, raw.count - outgoingOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outgoingOffset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                break
            } else {
                dropReason = "writing failed: \(String(cString: strerror(errno)))"
                return
            }
        }
        if outgoingOffset == outgoing.count {
            outgoing.removeAll(keepingCapacity: outgoing.capacity <= 1 << 20)
            outgoingOffset = 0
        } else if outgoingOffset >= 1 << 20 && outgoingOffset * 2 >= outgoing.count {
            outgoing.removeFirst(outgoingOffset)
            outgoingOffset = 0
        }
    }
}
