import Foundation
import LMClient
import LMProtocol
import TestSupport
import XCTest
@testable import LMServer

/// Clients that push on lmd's limits or misbehave (long lines, floods, never reading, dribbling, crowds,
/// another user): each limit answers with its error, and everyone else keeps being served.
final class HostileClientTests: DaemonTestCase {
    func testTheLineLimitFlagClosesOnlyTheOffender() throws {
        let daemon = try startDaemon(["--max-line-bytes", "4096"])
        let bystander = try LineConnection(socketPath: socketPath)
        defer { bystander.close() }
        let good = try XCTUnwrap(try request(bystander, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        // Exactly at the limit is fine.
        let offender = try LineConnection(socketPath: socketPath)
        defer { offender.close() }
        let head = Array(#"{"jsonrpc":"2.0","id":2,"method":"tokenize","params":{"text":""#.utf8), tail = Array(#""}}"#.utf8)
        let atLimit = head + Array(repeating: UInt8(ascii: "a"), count: 4096 - head.count - tail.count) + tail
        XCTAssertEqual(atLimit.count, 4096)
        XCTAssertNotNil(try exchange(offender, raw: atLimit)["result"]?["ids"])
        // One byte more: -32600 naming the limit, then the connection is closed.
        let overLimit = head + Array(repeating: UInt8(ascii: "a"), count: 4097 - head.count - tail.count) + tail
        let reply = try exchange(offender, raw: overLimit)
        XCTAssertEqual(reply.errorCode, -32600)
        XCTAssertEqual(reply["id"], .null)
        XCTAssertTrue(reply.errorMessage.contains("longer than 4096 bytes"), "\(reply)")
        XCTAssertNil(try offender.readLine(timeout: 10), "then the daemon closes the connection")
        try assertStillServes(bystander, expected: good, "another client's over-long line")
        XCTAssertTrue(daemon.log.contains("sent a line longer than 4096 bytes; closing it"), daemon.log)
    }

    func testTheTokenLimitFlagNamesTheLimit() throws {
        let daemon = try startDaemon(["--max-tokens", "5"])
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let refused = try request(connection, id: 1, "complete", ["text": "Once upon a time", "max_tokens": 6])
        XCTAssertEqual(refused.errorCode, -32602)
        XCTAssertEqual(refused["error"]?["data"]?["limit"]?.intValue, 5, "\(refused)")
        XCTAssertEqual(refused["error"]?["data"]?["param"]?.stringValue, "max_tokens", "\(refused)")
        XCTAssertTrue(refused.errorMessage.contains("at most 5"), "\(refused)")
        let allowed = try request(connection, id: 2, "complete", ["text": "Once upon a time", "max_tokens": 5])
        XCTAssertEqual(allowed["result"]?["ids"]?.intArray?.count, 5, "\(allowed)")
    }

    /// Sends `count` 40-token completions on each connection (all written before any is read) and returns
    /// every answer, checking that each id is answered once.
    private func flood(_ connections: [LineConnection], count: Int) throws -> [JSONValue] {
        for (c, connection) in connections.enumerated() {
            var bytes: [UInt8] = []
            for id in (c * 100)..<(c * 100 + count) {
                bytes += requestLine(id: id, "complete", ["text": .string("Request \(id) says"), "max_tokens": 40]) + [0x0A]
            }
            try connection.send(raw: bytes)
        }
        var replies: [JSONValue] = []
        for (c, connection) in connections.enumerated() {
            var ids: [Int] = []
            while ids.count < count {
                let reply = try JSONValue.parse(try XCTUnwrap(try connection.readLine(timeout: 60)))
                ids.append(try XCTUnwrap(reply["id"]?.intValue))
                replies.append(reply)
            }
            XCTAssertEqual(ids.sorted(), Array((c * 100)..<(c * 100 + count)))
        }
        return replies
    }

    func testQueueLimitsPerClientAndInTotalAnswerServerBusyWithTheLimit() throws {
        // One computes at a time. Per connection: three may wait.
        do {
            let daemon = try startDaemon(["--max-queue", "3", "--max-batch", "1"], socket: folder.appendingPathComponent("q1.sock").path)
            let a = try LineConnection(socketPath: daemon.socketPath!)
            defer { a.close() }
            let replies = try flood([a], count: 10)
            let busy = replies.filter { $0["result"] == nil }
            XCTAssertGreaterThanOrEqual(busy.count, 5, "10 asked, at most 1 running + 3 waiting (+1 if the first ended): \(replies)")
            for reply in busy {
                XCTAssertEqual(reply.errorCode, -32000, "\(reply)")
                XCTAssertEqual(reply.errorMessage, "Server busy: 3 requests are already queued for this connection (the limit); retry later")
                XCTAssertEqual(reply["error"]?["data"], ["limit": 3, "scope": "connection"])
            }
            XCTAssertTrue(daemon.process.isRunning)
        }
        // In total: five may wait, whoever sent them; two clients flood together.
        do {
            let daemon = try startDaemon(["--max-queue-total", "5", "--max-batch", "1"], socket: folder.appendingPathComponent("q2.sock").path)
            let a = try LineConnection(socketPath: daemon.socketPath!), b = try LineConnection(socketPath: daemon.socketPath!)
            defer { a.close(); b.close() }
            let replies = try flood([a, b], count: 10)
            let busy = replies.filter { $0["result"] == nil }
            XCTAssertGreaterThanOrEqual(busy.count, 12, "20 asked, at most 1 running + 5 waiting (+ a few if some ended): \(replies)")
            for reply in busy {
                XCTAssertEqual(reply.errorCode, -32000, "\(reply)")
                XCTAssertEqual(reply.errorMessage, "Server busy: 5 requests are already queued for this server (the limit); retry later")
                XCTAssertEqual(reply["error"]?["data"], ["limit": 5, "scope": "server"])
            }
            XCTAssertTrue(busy.contains { ($0["id"]?.intValue ?? 0) >= 100 }, "the second client is refused too")
            XCTAssertTrue(daemon.process.isRunning)
        }
    }

    func testAClientBeyondTheClientLimitIsToldServerBusyAndClosed() throws {
        let daemon = try startDaemon(["--max-clients", "3"])
        // The start-up probe (a connection that closed at once) may not have been reaped yet: at the limit
        // the daemon looks for clients that hung up before it refuses anyone.
        var clients = try (0..<3).map { _ in try LineConnection(socketPath: socketPath) }
        defer { clients.forEach { $0.close() } }
        for (i, client) in clients.enumerated() {
            XCTAssertEqual(try request(client, id: i, "info")["result"]?["n_head"]?.intValue, 4)
        }
        let fourth = try LineConnection(socketPath: socketPath)
        defer { fourth.close() }
        let reply = try JSONValue.parse(try XCTUnwrap(try fourth.readLine(timeout: 10), "one line saying why"))
        XCTAssertEqual(reply["id"], .null)
        XCTAssertEqual(reply.errorCode, -32000)
        XCTAssertTrue(reply.errorMessage.contains("3 clients are already connected"), "\(reply)")
        XCTAssertEqual(reply["error"]?["data"]?["limit"]?.intValue, 3)
        XCTAssertNil(try fourth.readLine(timeout: 10), "then it is closed")
        XCTAssertTrue(daemon.log.contains("refused a connection: already serving 3 clients (the limit)"), daemon.log)
        // Once one leaves, a newcomer is served.
        clients.removeFirst().close()
        waitFor("the daemon to see the client leave") { daemon.log.contains("(2 open)") && daemon.log.components(separatedBy: "disconnected").count > 1 }
        let newcomer = try LineConnection(socketPath: socketPath)
        defer { newcomer.close() }
        XCTAssertEqual(try request(newcomer, id: 9, "info")["result"]?["n_head"]?.intValue, 4)
    }

    func testAClientThatNeverReadsIsDroppedAtTheOutgoingBoundAndOthersAreServed() throws {
        let bound = 1 << 20
        let daemon = try startDaemon(["--max-outgoing-bytes", "\(bound)"])
        let bystander = try LineConnection(socketPath: socketPath)
        defer { bystander.close() }
        let good = try XCTUnwrap(try request(bystander, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        let before = residentKiB(daemon)
        // Each reply is ~1.5 MB of JSON logits (3 rows of 50257); the hog asks for 200 and reads none.
        let hog = try LineConnection(socketPath: socketPath)
        defer { hog.close() }
        var flood: [UInt8] = []
        for id in 0..<200 { flood += requestLine(id: id, "forward", ["text": "x y z"]) + [0x0A] }
        try hog.send(raw: flood)
        for round in 0..<10 { try assertStillServes(bystander, expected: good, "hog round \(round)") }
        waitFor("the hog to be dropped", timeout: 60) { daemon.log.contains("reply bytes unread") }
        XCTAssertTrue(daemon.log.range(of: #"disconnected: dropped: it left \d+ reply bytes unread"#, options: .regularExpression) != nil, daemon.log)
        try assertStillServes(bystander, expected: good, "the hog was dropped")
        let after = residentKiB(daemon), peak = peakResidentKiB(daemon)
        print("never-reading client: dropped at a \(bound)-byte bound; RSS \(before ?? -1) KiB before, \(after ?? -1) KiB after, peak \(peak ?? -1) KiB")
        if let before, let after { XCTAssertLessThan(after - before, 200 << 10, "memory stays bounded") }
    }

    func testDribblingAndStalledClientsDoNotHoldUpOthers() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        // Fifty clients that sent half a request and stopped, and one that sends a byte every second.
        let stalled = try (0..<50).map { _ in try LineConnection(socketPath: socketPath) }
        defer { stalled.forEach { $0.close() } }
        for connection in stalled { try connection.send(raw: Array(#"{"jsonrpc":"2.0","id":1,"method":"tok"#.utf8)) }
        let dribbler = try LineConnection(socketPath: socketPath)
        defer { dribbler.close() }
        let request = requestLine(id: 77, "tokenize", ["text": "slowly"])
        let dribbled = 3
        let dribbling = Thread {
            for byte in request.prefix(dribbled) {
                try? dribbler.send(raw: [byte])
                sleep(1)
            }
        }
        dribbling.start()
        let bystander = try LineConnection(socketPath: socketPath)
        defer { bystander.close() }
        var latencies: [TimeInterval] = []
        let until = Date().addingTimeInterval(Double(dribbled))
        var id = 1000
        while Date() < until {
            let started = Date()
            XCTAssertNotNil(try self.request(bystander, id: id, "tokenize", ["text": .string("quick \(id)")])["result"])
            latencies.append(Date().timeIntervalSince(started))
            id += 1
            usleep(20_000)
        }
        while !dribbling.isFinished { usleep(10_000) }
        try dribbler.send(line: Array(request.dropFirst(dribbled)))
        let answer = try readUntilResponse(dribbler, id: 77).response
        XCTAssertEqual(answer["result"]?["tokens"]?.stringArray?.joined(), "slowly")
        let worst = latencies.max() ?? .infinity
        print("while 1 client dribbled and 50 stalled: \(latencies.count) requests, worst latency \(String(format: "%.3f", worst)) s")
        XCTAssertGreaterThanOrEqual(latencies.count, 20)
        XCTAssertLessThan(worst, 1.0)
    }

    func testHugeRequestsAreReadOnTheirSendersTimeNotEveryones() throws {
        let daemon = try startDaemon()
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        // Two clients (as many as there are cores here) each send 2.5 million ids (5 MiB of JSON): parsing and
        // checking them takes seconds in a debug build, and that time must not stop the daemon answering others
        // (handed over on the I/O thread, each stalled everyone for all of it: 1.8 s for one 8 MiB line).
        var bytes = Array(#"{"jsonrpc":"2.0","id":1,"method":"topk","params":{"k":3,"ids":["#.utf8)
        bytes.reserveCapacity(5_100_000)
        for i in 0..<2_500_000 { bytes += i == 0 ? [UInt8(ascii: "1")] : [UInt8(ascii: ","), UInt8(ascii: "1")] }
        bytes += Array("]}}".utf8)
        let line = bytes
        let bystander = try LineConnection(socketPath: socketPath)
        defer { bystander.close() }
        let good = try XCTUnwrap(try request(bystander, id: 1, "tokenize", ["text": "still serving"])["result"]?["ids"]?.intArray)
        let answers = LockedBox<[JSONValue?]>([])
        let senders = try (0..<2).map { _ in try LineConnection(socketPath: socketPath) }
        defer { senders.forEach { $0.close() } }
        let started = Date()
        for sender in senders {
            Thread {
                try? sender.send(line: line)
                let answer = (try? sender.readLine(timeout: 120)).flatMap { $0 }.flatMap { try? JSONValue.parse($0) }
                answers.withValue { $0.append(answer) }
            }.start()
        }
        var latencies: [TimeInterval] = []
        while answers.value.count < senders.count && Date().timeIntervalSince(started) < 120 {
            let asked = Date()
            try assertStillServes(bystander, expected: good, "huge requests")
            latencies.append(Date().timeIntervalSince(asked))
            usleep(10_000)
        }
        XCTAssertEqual(answers.value.count, senders.count)
        for answer in answers.value {
            XCTAssertEqual(answer?["result"]?["ids"]?.intArray?.count, 3, "\(answer?.description.prefix(300) ?? "no answer")")
            XCTAssertEqual(answer?["result"]?["truncated"], true, "only the last tokens fit the context")
        }
        let worst = latencies.max() ?? 0
        print("2 requests of \(line.count) bytes took \(String(format: "%.2f", Date().timeIntervalSince(started))) s; "
              + "meanwhile \(latencies.count) bystander requests, worst latency \(String(format: "%.3f", worst)) s")
        XCTAssertGreaterThan(latencies.count, 1)
        XCTAssertLessThan(worst, 1.5, "two cores are busy parsing; the bystander still gets its turn")
    }

    func testConnectionChurnLeavesNoDescriptorOrThreadBehind() throws {
        let daemon = try startDaemon(["--max-line-bytes", "1024", "--max-clients", "8"])
        defer { XCTAssertTrue(daemon.process.isRunning, "lmd is still serving") }
        let pid = daemon.process.processIdentifier
        // Sockets only: libdispatch makes its own event-loop descriptors lazily, whenever it first needs them.
        func descriptors() -> Int {
            let folder = "/proc/\(pid)/fd"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + $0)) ?? "").hasPrefix("socket:") }.count
        }
        func threads() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1 }
        func noneOpen() -> Bool { daemon.log.split(separator: "\n").last { $0.hasSuffix(" open)") }?.hasSuffix("(0 open)") ?? false }
        // Every way of leaving, 600 times: at once, mid-request, after an over-long line, beyond the client limit.
        func churn(_ rounds: Int) throws {
            var held: [LineConnection] = []
            for round in 0..<rounds {
                let connection = try LineConnection(socketPath: socketPath)
                switch round % 4 {
                case 0: break
                case 1: try? connection.send(line: requestLine(id: round, "complete", ["text": "Leaving", "max_tokens": 20, "stream": true]))
                case 2: try? connection.send(line: Array(repeating: UInt8(ascii: "x"), count: 2000))
                default: if held.count < 12 { held.append(connection); continue }  // past 8, refused as busy
                }
                connection.close()
            }
            held.forEach { $0.close() }
        }
        try churn(40)  // warm-up: the thread pool grows once
        waitFor("the warm-up clients to be gone") { noneOpen() }
        let (fdsBefore, threadsBefore) = (descriptors(), threads())
        try churn(600)
        waitFor("the churned clients to be gone") { noneOpen() }
        waitFor("sockets back to \(fdsBefore)") { descriptors() == fdsBefore }
        XCTAssertGreaterThanOrEqual(fdsBefore, 1, "the listening socket at least")
        print("600 connections churned: \(fdsBefore) sockets open before and \(descriptors()) after; threads \(threadsBefore) → \(threads())")
        XCTAssertLessThanOrEqual(threads(), threadsBefore + 8, "no thread per connection is left behind")
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("info")["n_layer"]?.intValue, 2)
    }

    func testTwoHundredClientsAtOnceEachGetTheirOwnAnswer() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 1024 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let daemon = try startDaemon()
        let count = 200
        let prompts = (0..<count).map { "Client \($0) of the crowd asks" }
        // What each asks, answered alone first.
        let reference = try LineConnection(socketPath: socketPath)
        var expected: [[Int]] = []
        for (i, prompt) in prompts.enumerated() {
            expected.append(try XCTUnwrap(try request(reference, id: i, "topk", ["text": .string(prompt), "k": 3])["result"]?["ids"]?.intArray))
        }
        reference.close()
        // Then all at once: every client connected, every request in flight before any answer is read.
        let started = Date()
        let clients = try (0..<count).map { _ in try LineConnection(socketPath: socketPath) }
        defer { clients.forEach { $0.close() } }
        for (i, client) in clients.enumerated() {
            try client.send(line: requestLine(id: i, "topk", ["text": .string(prompts[i]), "k": 3]))
        }
        var wrong: [String] = []
        for (i, client) in clients.enumerated() {
            let reply = try readUntilResponse(client, id: .int(i), timeout: 120).response
            if reply["result"]?["ids"]?.intArray != expected[i] { wrong.append("client \(i): \(reply.description.prefix(200))") }
        }
        print("\(count) clients at once: every answer in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        XCTAssertEqual(wrong, [])
        XCTAssertTrue(daemon.log.contains(", \(count) open)"), "all \(count) were connected together")
    }

    func testAnotherUserIsRefusedEvenWhenTheSocketIsOpenToAll() throws {
        let setpriv = "/usr/bin/setpriv"
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: setpriv) else {
            throw XCTSkip("needs root and setpriv to run a client as another user (the injectable check is tested in-process)")
        }
        let daemon = try startDaemon()
        // Loosen everything the file system offers: the peer check must hold on its own.
        XCTAssertEqual(chmod(folder.path, 0o755), 0)
        XCTAssertEqual(chmod(socketPath, 0o777), 0)
        let lmctl = Products.executable("lmctl")
        let nobody = try ProcessRunner.run(
            URL(fileURLWithPath: setpriv),
            ["--reuid=65534", "--regid=65534", "--clear-groups", lmctl.path, "--socket", socketPath, "--no-start", "--json", "info"],
            timeout: 30)
        XCTAssertEqual(nobody.status, 1, "refused: \(nobody.stdout) \(nobody.stderr)")
        XCTAssertFalse(nobody.stdout.contains("vocab_size"), nobody.stdout)
        waitFor("the refusal in the log") { daemon.log.contains("refused a connection from uid 65534") }
        XCTAssertTrue(daemon.log.range(of: #"refused a connection from uid 65534 \(pid \d+, gid 65534\): only uid 0 is served"#, options: .regularExpression) != nil, daemon.log)
        let same = try ProcessRunner.run(lmctl, ["--socket", socketPath, "--no-start", "--json", "info"], timeout: 30)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("\"vocab_size\""), same.stdout)
    }

    func testThePeerCheckRefusesAnyUidButTheAllowedOne() throws {
        // In-process, with the allowed uid injected: the same code path without needing a second user.
        let path = folder.appendingPathComponent("peer.sock").path
        for allowed in [UInt32(geteuid()) &+ 1, UInt32(geteuid())] {
            let service = EchoService()
            let logs = TransportLogCollector()
            var options = TransportOptions()
            options.allowedPeerUID = allowed
            let server = SocketServer(path: path, service: service, options: options, log: logs.log)
            try server.start(onEnd: { _ in })
            defer { server.close() }
            let connection = try LineConnection(socketPath: path)
            defer { connection.close() }
            try? connection.send(line: Array("echo hello".utf8))
            let reply = try? connection.readLine(timeout: 10)
            if allowed == UInt32(geteuid()) {
                XCTAssertEqual((reply ?? nil).map { String(decoding: $0, as: UTF8.self) }, "hello")
                XCTAssertEqual(service.openedCount, 1)
            } else {
                XCTAssertEqual(reply ?? nil, nil, "closed without a word")
                XCTAssertEqual(service.openedCount, 0, "no session is ever opened for a stranger")
                XCTAssertTrue(logs.text.contains("refused a connection from uid \(geteuid()) (pid \(getpid()), gid \(getegid())): only uid \(allowed) is served"), logs.text)
            }
        }
    }
}
