import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client's socket: replies are written straight away when the socket takes them and otherwise queued
/// (up to a bound) for the I/O thread, so that no dispatcher thread ever waits on a slow reader.
///
/// Lines read are handed to the session off the I/O thread, in order, through a bounded inbox: parsing a
/// 16 MiB request takes a while, and that time must be spent on the sender's account, not on everyone's.
/// While the inbox holds `maxInboxBytes` or more, the I/O thread stops reading this connection.
final class SocketConnection: ReplySink, @unchecked Sendable {
    /// What waits in the inbox.
    enum InboxItem {
        /// A request line (without "\n").
        case line([UInt8])
        /// The peer sent a line longer than `limit`: answer -32600, close the session, then the connection.
        case tooLong(limit: Int)
    }

    /// Inbox bytes past which the connection is not read until the session has caught up.
    static let maxInboxBytes = 1 << 20
    /// Lines up to this size are handed over on the I/O thread when nothing of theirs is waiting: they parse
    /// in well under a millisecond, and most requests are this small.
    static let inlineLineBytes = 16 << 10

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

    // Guarded by `lock`: the inbox, and the session (the I/O thread sets and clears it, the hand-over uses it).
    private var session: LineSession?
    private var inbox: [InboxItem] = []
    private var inboxHead = 0
    private var inboxBytes = 0
    /// A hand-over run is scheduled or running.
    private var handing = false
    private let handOverEnded = NSCondition()

    // Touched only by the I/O thread.
    var framer: LineFramer
    /// The peer sent EOF (it may still read).
    var inputEnded = false
    /// After an over-long line: input is discarded up to the next newline, then the connection closes.
    var discardingUntilNewline = false
    var discardedBytes = 0
    /// Close as soon as the queued replies are written.
    var closeWhenDrained = false
    /// Closed by the server: its descriptor number may already belong to a newer connection.
    var finished = false

    init(id: Int, fd: Int32, maxLineLength: Int, maxOutgoingBytes: Int, wake: @escaping @Sendable () -> Void) {
        self.id = id
        self.fd = fd
        self.framer = LineFramer(maxLineLength: maxLineLength)
        self.maxOutgoingBytes = maxOutgoingBytes
        self.wake = wake
    }

    /// Attaches the session that receives this connection's lines.
    func attach(_ newSession: LineSession) {
        lock.lock(); session = newSession; lock.unlock()
    }

    /// Detaches and closes the session and throws away lines not yet handed over (the peer is gone).
    func closeSession() {
        lock.lock()
        let old = session
        session = nil
        inbox = []
        inboxHead = 0
        inboxBytes = 0
        lock.unlock()
        old?.close()
    }

    /// Hands framed input to the session, in order: a small line at once (on the calling I/O thread) when
    /// nothing is waiting, anything else through the inbox on a thread of its own. That thread is not
    /// libdispatch's: its pool runs about one block per core, so two huge requests would stall everyone.
    func enqueue(_ item: InboxItem) {
        lock.lock()
        guard let current = session else { lock.unlock(); return }
        if !handing, case let .line(bytes) = item, bytes.count <= Self.inlineLineBytes {
            lock.unlock()
            current.receive(line: bytes)
            return
        }
        inbox.append(item)
        if case let .line(bytes) = item { inboxBytes += bytes.count }
        let start = !handing
        handing = true
        lock.unlock()
        if start {
            let thread = Thread { [self] in handOver() }
            thread.name = "lmd-conn-\(id)"
            thread.start()
        }
    }

    /// Whether the inbox is too full to read more now.
    var inboxIsFull: Bool {
        lock.lock(); defer { lock.unlock() }
        return inboxBytes >= Self.maxInboxBytes
    }

    /// Whether every line read so far has been handed to the session (or thrown away with it).
    var inboxIsEmpty: Bool {
        lock.lock(); defer { lock.unlock() }
        return !handing
    }

    /// Blocks until the inbox is empty or `deadline` passes; true if it is empty.
    func waitUntilInboxEmpty(deadline: Date) -> Bool {
        handOverEnded.lock(); defer { handOverEnded.unlock() }
        while !inboxIsEmpty {
            if !handOverEnded.wait(until: deadline) { return inboxIsEmpty }
        }
        return true
    }

    /// Hands queued lines to the session, one at a time in order, until the inbox is empty.
    private func handOver() {
        var wakeIOThread = false
        while true {
            lock.lock()
            guard inboxHead < inbox.count, let current = session else {
                inbox = []
                inboxHead = 0
                inboxBytes = 0
                handing = false
                lock.unlock()
                break
            }
            let item = inbox[inboxHead]
            inboxHead += 1
            if inboxHead >= 1024 && inboxHead * 2 >= inbox.count {
                inbox.removeFirst(inboxHead)
                inboxHead = 0
            }
            lock.unlock()
            switch item {
            case let .line(bytes):
                current.receive(line: bytes)
                lock.lock()
                let wasFull = inboxBytes >= Self.maxInboxBytes
                inboxBytes -= bytes.count
                // The I/O thread stopped reading this connection; it must look again now that there is room.
                if wasFull && inboxBytes < Self.maxInboxBytes { wakeIOThread = true }
                lock.unlock()
            case let .tooLong(limit):
                closeSession()
                send(line: tooLongReply(limit: limit))
                // The I/O thread closes the connection once that reply is out; it must look again.
                wakeIOThread = true
            }
        }
        handOverEnded.lock(); handOverEnded.broadcast(); handOverEnded.unlock()
        if wakeIOThread { wake() }
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
