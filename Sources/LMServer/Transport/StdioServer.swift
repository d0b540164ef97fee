import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Serves one client on standard input and output (`lmd --stdio`): requests are read from stdin, replies
/// written to stdout, one per line. The end of stdin ends the service once what was asked is answered.
public final class StdioServer: TransportServer, @unchecked Sendable {
    private let service: LineService
    private let options: TransportOptions
    private let log: ServerLog
    private let input: Int32
    private let sink: StdioSink
    private var session: LineSession?
    private let lock = NSLock()
    private var reading = true

    /// A server on `input` and `output` (stdin and stdout by default).
    public init(
        service: LineService, options: TransportOptions = TransportOptions(), log: ServerLog,
        input: Int32 = 0, output: Int32 = 1
    ) {
        self.service = service
        self.options = options
        self.log = log
        self.input = input
        self.sink = StdioSink(fd: output, maxOutgoingBytes: options.maxOutgoingBytes)
    }

    /// Starts the reader and writer threads.
    public func start(onEnd: @escaping @Sendable (StopReason) -> Void) throws {
        let session = service.openLineSession(sink: sink)
        self.session = session
        sink.onFailure = { [log] reason in
            log.error("stdout: \(reason)")
            onEnd(.clientGone(reason))
        }
        sink.start()
        let thread = Thread { [self] in readLoop(session: session, onEnd: onEnd) }
        thread.name = "lmd-stdin"
        thread.start()
        log.info("serving on stdin/stdout")
    }

    /// Stops handing new requests to the service (the reader may stay blocked in `read`; the process ends soon).
    public func stopInput() {
        lock.lock(); reading = false; lock.unlock()
    }

    /// Waits until stdout has taken every reply.
    public func drain(timeout: TimeInterval) {
        if !sink.waitUntilEmpty(timeout: timeout) { log.error("gave up waiting for stdout to take the last replies") }
    }

    /// Drops the session and stops writing.
    public func close() {
        session?.close()
        sink.shut()
    }

    private var isReading: Bool {
        lock.lock(); defer { lock.unlock() }
        return reading
    }

    private func readLoop(session: LineSession, onEnd: @escaping @Sendable (StopReason) -> Void) {
        var framer = LineFramer(maxLineLength: options.maxLineLength)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while isReading {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if n < 0 { log.error("reading stdin failed: \(String(cString: strerror(errno)))") }
                log.info("stdin closed")
                onEnd(.clientGone("stdin closed"))
                return
            }
            let events = buffer.withUnsafeBufferPointer { framer.append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            for event in events {
                guard isReading else { return }
                switch event {
                case let .line(line):
                    session.receive(line: line)
                case .tooLong:
                    log.error("stdin sent a line longer than \(options.maxLineLength) bytes; stopping")
                    sink.send(line: tooLongReply(limit: options.maxLineLength))
                    onEnd(.clientGone("over-long line"))
                    return
                }
            }
        }
    }
}

/// Replies bound for stdout: queued (bounded) and written by one thread with blocking writes,
/// because making stdout non-blocking would change it for whoever shares it.
final class StdioSink: ReplySink, @unchecked Sendable {
    private let fd: Int32
    private let maxOutgoingBytes: Int
    private let condition = NSCondition()
    private var queue: [[UInt8]] = []
    private var queuedBytes = 0
    private var writing = false
    private var shutDown = false
    private var failed = false
    var onFailure: (@Sendable (String) -> Void)?

    init(fd: Int32, maxOutgoingBytes: Int) {
        self.fd = fd
        self.maxOutgoingBytes = maxOutgoingBytes
    }

    func start() {
        let thread = Thread { [self] in writeLoop() }
        thread.name = "lmd-stdout"
        thread.start()
    }

    @discardableResult
    func send(line: [UInt8]) -> Bool {
        condition.lock()
        if shutDown || failed { condition.unlock(); return false }
        if queuedBytes > maxOutgoingBytes {
            failed = true
            condition.unlock()
            onFailure?("\(queuedBytes) reply bytes were left unread")
            return false
        }
        var framed = line
        framed.append(0x0A)
        queue.append(framed)
        queuedBytes += framed.count
        condition.signal()
        condition.unlock()
        return true
    }

    /// True once everything queued is written (false on timeout).
    func waitUntilEmpty(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock(); defer { condition.unlock() }
        while (!queue.isEmpty || writing) && !failed {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }

    func shut() {
        condition.lock()
        shutDown = true
        queue = []
        condition.broadcast()
        condition.unlock()
    }

    private func writeLoop() {
        while true {
            condition.lock()
            while queue.isEmpty && !shutDown { condition.wait() }
            if shutDown { condition.unlock(); return }
            let line = queue.removeFirst()
            writing = true
            condition.unlock()
            let ok = writeAll(line)
            condition.lock()
            writing = false
            queuedBytes -= line.count
            if !ok { failed = true }
            condition.broadcast()
            condition.unlock()
            if !ok {
                onFailure?("writing failed: \(String(cString: strerror(errno)))")
                return
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
    }
}
