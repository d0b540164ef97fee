import Foundation
import LMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Serves a `LineService` on a Unix domain socket: one I/O thread polls the listening socket and every
/// connection (non-blocking), so that a slow or silent client never holds up the others.
public final class SocketServer: TransportServer, @unchecked Sendable {
    /// The socket file's path.
    public let path: String
    private let service: LineService
    private let options: TransportOptions
    private let log: ServerLog

    private var listenFD: Int32 = -1
    private var socketIdentity: (dev: UInt, ino: UInt)?
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private var nextID = 1
    private var readBuffer = [UInt8](repeating: 0, count: 64 << 10)
    private var onEnd: (@Sendable (StopReason) -> Void)?

    /// Guards the flags below, the wake pipe's write end and `connections` (which only the I/O thread changes).
    private let state = NSCondition()
    private var connections: [SocketConnection] = []
    private var acceptingInput = true
    private var stopping = false
    private var running = false

    /// A server for `path`; nothing happens until `start`.
    public init(path: String, service: LineService, options: TransportOptions = TransportOptions(), log: ServerLog) {
        self.path = path
        self.service = service
        self.options = options
        self.log = log
    }

    /// Connections open now.
    public var connectionCount: Int {
        state.lock(); defer { state.unlock() }
        return connections.count
    }

    /// Binds the socket (0600; a stale file is replaced, a live daemon refused) and starts the I/O thread.
    public func start(onEnd: @escaping @Sendable (StopReason) -> Void) throws {
        self.onEnd = onEnd
        try SocketPath.validate(path)
        try SocketPath.prepareDirectory(for: path)
        try removeStaleSocket()
        try bindAndListen()
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(listenFD); unlink(path)
            throw TransportError.system(call: "pipe", path: path, reason: reason)
        }
        wakeRead = fds[0]; wakeWrite = fds[1]
        for fd in fds { setNonBlockingCloseOnExec(fd) }
        state.lock(); running = true; state.unlock()
        let thread = Thread { [self] in ioLoop() }
        thread.name = "lmd-io"
        thread.start()
        log.info("listening on \(path)")
    }

    /// Stops accepting and reading; what was asked is still answered.
    public func stopInput() {
        state.lock(); acceptingInput = false; state.unlock()
        wake()
    }

    /// Waits until every connection's replies are written (or `timeout`).
    public func drain(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            state.lock()
            let pending = connections.contains { $0.hasPendingOutput }
            state.unlock()
            if !pending { return }
            usleep(10_000)
        }
        log.error("gave up waiting for slow clients to read their last replies")
    }

    /// Closes all connections, stops the I/O thread and removes the socket file (if it is still ours).
    public func close() {
        state.lock()
        let first = !stopping
        stopping = true
        state.unlock()
        wake()
        state.lock()
        while running { state.wait() }
        state.unlock()
        if first { removeOwnSocketFile() }
    }

    // MARK: - Setup

    private func removeStaleSocket() throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw TransportError.notASocket(path: path) }
        if SocketPath.isListening(path) { throw TransportError.alreadyRunning(path: path) }
        log.info("replacing stale socket \(path) (nobody was listening)")
        unlink(path)
    }

    private func bindAndListen() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("socket") }
        // The socket is created 0600 (umask) and chmod'ed again in case a umask was looser than ours.
        let oldMask = umask(0o177)
        let bound = try SocketPath.withAddress(path) { sa, length in Glibc.bind(fd, sa, length) }
        let bindErrno = errno
        umask(oldMask)
        if bound != 0 {
            Glibc.close(fd)
            if bindErrno == EADDRINUSE && SocketPath.isListening(path) { throw TransportError.alreadyRunning(path: path) }
            throw TransportError.system(call: "bind", path: path, reason: String(cString: strerror(bindErrno)))
        }
        _ = chmod(path, 0o600)
        guard listen(fd, 128) == 0 else {
            let error = systemError("listen")
            Glibc.close(fd); unlink(path)
            throw error
        }
        var st = stat()
        if stat(path, &st) == 0 { socketIdentity = (UInt(st.st_dev), UInt(st.st_ino)) }
        listenFD = fd
    }

    private func removeOwnSocketFile() {
        var st = stat()
        guard let identity = socketIdentity, stat(path, &st) == 0 else { return }
        // A newer daemon may have replaced our socket after we stopped accepting: leave its file alone.
        if UInt(st.st_dev) == identity.dev && UInt(st.st_ino) == identity.ino {
            unlink(path)
            log.info("removed socket \(path)")
        }
    }

    private func systemError(_ call: String) -> TransportError {
        TransportError.system(call: call, path: path, reason: String(cString: strerror(errno)))
    }

    private func setNonBlockingCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// Wakes the I/O thread; a no-op once the pipe is closed (its number may belong to someone else by then).
    private func wake() {
        state.lock(); defer { state.unlock() }
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    // MARK: - I/O thread

    private func ioLoop() {
        var acceptPausedUntil: Date?
        while true {
            state.lock()
            let stop = stopping
            let takingInput = acceptingInput
            let current = connections
            state.unlock()
            if stop { break }
            if !takingInput && listenFD >= 0 {
                Glibc.close(listenFD)
                listenFD = -1
                log.info("stopped accepting connections")
            }
            if let until = acceptPausedUntil, until <= Date() { acceptPausedUntil = nil }

            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let listening = listenFD >= 0 && acceptPausedUntil == nil
            if listening { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            let firstConnection = fds.count
            for connection in current {
                var events: Int32 = 0
                if takingInput && !connection.inputEnded { events |= Int32(POLLIN) }
                if connection.hasPendingOutput { events |= Int32(POLLOUT) }
                fds.append(pollfd(fd: connection.fd, events: Int16(events), revents: 0))
            }
            let timeout: Int32 = acceptPausedUntil == nil ? -1 : 100
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                log.error("poll failed: \(String(cString: strerror(errno)))")
                usleep(10_000)
                continue
            }
            if fds[0].revents != 0 { drainWakePipe() }
            if listening && fds[1].revents != 0 {
                if !acceptAll() { acceptPausedUntil = Date().addingTimeInterval(0.1) }
            }
            for (index, connection) in current.enumerated() {
                let revents = Int32(fds[firstConnection + index].revents)
                service(connection, revents: revents, takingInput: takingInput)
            }
            for connection in current { finishIfDone(connection) }
        }
        state.lock()
        let remaining = connections
        state.unlock()
        for connection in remaining { finish(connection, reason: "daemon stopping") }
        if listenFD >= 0 { Glibc.close(listenFD); listenFD = -1 }
        state.lock()
        Glibc.close(wakeRead); Glibc.close(wakeWrite)
        wakeRead = -1; wakeWrite = -1
        running = false
        state.broadcast()
        state.unlock()
    }

    private func drainWakePipe() {
        var sink = [UInt8](repeating: 0, count: 256)
        while Glibc.read(wakeRead, &sink, sink.count) > 0 {}
    }

    /// Accepts every pending connection; false when out of descriptors (accepting pauses briefly).
    private func acceptAll() -> Bool {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd >= 0 { setNonBlockingCloseOnExec(fd) }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EAGAIN, EWOULDBLOCK: return true
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    log.error("cannot accept a connection: \(String(cString: strerror(errno)))")
                    return false
                default:
                    log.error("accept failed: \(String(cString: strerror(errno)))")
                    return true
                }
            }
            state.lock()
            let count = connections.count
            state.unlock()
            if count >= options.maxConnections {
                log.error("refused a connection: already serving \(count) (the limit)")
                Glibc.close(fd)
                continue
            }
            let id = nextID
            nextID += 1
            let connection = SocketConnection(
                id: id, fd: fd, maxLineLength: options.maxLineLength, maxOutgoingBytes: options.maxOutgoingBytes,
                wake: { [weak self] in self?.wake() })
            connection.session = service.openLineSession(sink: connection)
            state.lock()
            connections.append(connection)
            let open = connections.count
            state.unlock()
            log.info("client \(id) connected (\(open) open)")
        }
    }

    private func service(_ connection: SocketConnection, revents: Int32, takingInput: Bool) {
        if revents == 0 { return }
        if revents & Int32(POLLNVAL) != 0 { finish(connection, reason: "invalid descriptor"); return }
        if revents & Int32(POLLOUT) != 0 { connection.flush() }
        if takingInput && !connection.inputEnded && revents & Int32(POLLIN | POLLERR | POLLHUP) != 0 {
            readSome(connection)
        }
        // POLLHUP: the peer closed both ways, so nothing it asked can reach it any more.
        if revents & Int32(POLLHUP) != 0 {
            finish(connection, reason: "hung up")
        } else if revents & Int32(POLLERR) != 0 {
            finish(connection, reason: "dropped: socket error")
        }
    }

    /// Reads what is there (a bounded amount, for fairness) and hands complete lines to the session.
    private func readSome(_ connection: SocketConnection) {
        for _ in 0..<4 {
            let n = readBuffer.withUnsafeMutableBytes { raw in Glibc.recv(connection.fd, raw.baseAddress!, raw.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                connection.inputEnded = true
                log.debug("client \(connection.id): read failed: \(String(cString: strerror(errno)))")
                return
            }
            if n == 0 {
                // EOF on input: the client may have only shut its writing side and still wait for answers.
                connection.inputEnded = true
                log.debug("client \(connection.id) finished sending")
                return
            }
            let events = readBuffer.withUnsafeBufferPointer { connection.framer.append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            for event in events {
                switch event {
                case let .line(line):
                    connection.session?.receive(line: line)
                case .tooLong:
                    log.error("client \(connection.id) sent a line longer than \(options.maxLineLength) bytes; closing it")
                    connection.session?.close()
                    connection.session = nil
                    connection.send(line: tooLongReply(limit: options.maxLineLength))
                }
            }
            if connection.framer.failed {
                // Keep swallowing the rest of the long line so the client can finish writing and read the answer.
                if connection.framer.overlongLineEnded || connection.framer.discardedByteCount > options.maxLineLength {
                    connection.inputEnded = true
                    connection.closeWhenDrained = true
                }
            }
            if n < readBuffer.count { return }
        }
    }

    private func finishIfDone(_ connection: SocketConnection) {
        state.lock()
        let present = connections.contains { $0 === connection }
        state.unlock()
        guard present else { return }
        if let failure = connection.failure {
            finish(connection, reason: "dropped: \(failure)")
        } else if connection.closeWhenDrained && !connection.hasPendingOutput {
            finish(connection, reason: "closed after an over-long line")
        }
    }

    private func finish(_ connection: SocketConnection, reason: String) {
        state.lock()
        guard let index = connections.firstIndex(where: { $0 === connection }) else { state.unlock(); return }
        connections.remove(at: index)
        let open = connections.count
        state.unlock()
        connection.session?.close()
        connection.session = nil
        connection.shutForWriting()
        Glibc.close(connection.fd)
        if reason.hasPrefix("dropped") {
            log.error("client \(connection.id) disconnected: \(reason) (\(open) open)")
        } else {
            log.info("client \(connection.id) disconnected: \(reason) (\(open) open)")
        }
    }
}
