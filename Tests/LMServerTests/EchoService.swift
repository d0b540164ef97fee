import Foundation
@testable import LMServer

/// A stand-in for the dispatcher that speaks a tiny text protocol, so that the transport can be tested
/// without a model: `echo X` → `X`; `big N` → N bytes of "x"; `slow MS X` → `X` after MS milliseconds;
/// `shutdown` → `null`, then the shutdown handler; anything else comes back as it was.
final class EchoService: LineService, @unchecked Sendable {
    private let lock = NSLock()
    private let work = DispatchGroup()
    private var shutdownHandler: (@Sendable () -> Void)?
    private(set) var opened = 0
    private(set) var closed = 0
    private(set) var cancelAllCalls = 0

    func openLineSession(sink: ReplySink) -> LineSession {
        lock.lock(); opened += 1; lock.unlock()
        return EchoSession(service: self, sink: sink)
    }

    func cancelAll() { lock.lock(); cancelAllCalls += 1; lock.unlock() }
    func waitUntilIdle() { work.wait() }
    func setShutdownHandler(_ handler: @escaping @Sendable () -> Void) { lock.lock(); shutdownHandler = handler; lock.unlock() }

    var closedCount: Int { lock.lock(); defer { lock.unlock() }; return closed }
    var openedCount: Int { lock.lock(); defer { lock.unlock() }; return opened }

    fileprivate func sessionClosed() { lock.lock(); closed += 1; lock.unlock() }

    fileprivate func handle(_ text: String, sink: ReplySink, session: EchoSession) {
        let words = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        switch words.first {
        case "echo":
            sink.send(line: Array(words.dropFirst().joined(separator: " ").utf8))
        case "big":
            sink.send(line: Array(repeating: UInt8(ascii: "x"), count: Int(words[1]) ?? 0))
        case "slow":
            let delay = Double(words[1]) ?? 0
            let reply = words.count > 2 ? words[2] : ""
            work.enter()
            DispatchQueue.global().asyncAfter(deadline: .now() + delay / 1000) {
                if !session.isClosed { sink.send(line: Array(reply.utf8)) }
                self.work.leave()
            }
        case "shutdown":
            sink.send(line: Array("null".utf8))
            lock.lock(); let handler = shutdownHandler; lock.unlock()
            handler?()
        default:
            sink.send(line: Array(text.utf8))
        }
    }
}

final class EchoSession: LineSession, @unchecked Sendable {
    private let service: EchoService
    private let sink: ReplySink
    private let lock = NSLock()
    private var closedFlag = false

    init(service: EchoService, sink: ReplySink) { self.service = service; self.sink = sink }

    var isClosed: Bool { lock.lock(); defer { lock.unlock() }; return closedFlag }

    func receive(line: [UInt8]) { service.handle(String(decoding: line, as: UTF8.self), sink: sink, session: self) }

    func close() {
        lock.lock(); let first = !closedFlag; closedFlag = true; lock.unlock()
        if first { service.sessionClosed() }
    }
}

/// Log lines collected in memory.
final class TransportLogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    lazy var log = ServerLog(level: .debug) { [weak self] line in self?.append(line) }
    private func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return lines.joined() }
}
