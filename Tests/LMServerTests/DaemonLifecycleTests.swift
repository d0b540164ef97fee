import LMClient
import LMProtocol
import TestSupport
import XCTest

/// lmd as a process: its socket, refusing a second daemon, stale sockets, signals, shutdown, stdio, failures.
final class DaemonLifecycleTests: DaemonTestCase {
    func testSocketIsOwnerOnlyInAnOwnerOnlyFolder() throws {
        let nested = folder.appendingPathComponent("made-by-lmd").appendingPathComponent("lmd.sock").path
        let daemon = try startDaemon(socket: nested)
        var st = stat()
        XCTAssertEqual(lstat(nested, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(stat((nested as NSString).deletingLastPathComponent, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertTrue(daemon.log.contains("listening on \(nested)"), daemon.log)
    }

    func testASecondDaemonOnALiveSocketRefusesWithExit1() throws {
        let first = try startDaemon()
        let second = try ProcessRunner.run(
            Products.executable("lmd"), ["--model", Fixtures.tinyModel.path, "--socket", socketPath], timeout: 60)
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.stderr.contains("already listening on \(socketPath)"), second.stderr)
        XCTAssertEqual(second.stderr.split(separator: "\n").count, 1, "one sentence: \(second.stderr)")
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("info")["vocab_size"]?.intValue, 50257, "the first daemon is untouched")
        XCTAssertTrue(first.process.isRunning)
    }

    func testAStaleSocketIsReplaced() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertEqual(try SocketPath.withAddress(socketPath) { bind(fd, $0, $1) }, 0)
        close(fd)
        XCTAssertTrue(FileManager.default.fileExists(atPath: socketPath))
        let daemon = try startDaemon()
        XCTAssertTrue(daemon.log.contains("replacing stale socket"), daemon.log)
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("info")["n_embd"]?.intValue, 32)
    }

    func testSIGTERMAnswersWorkInFlightRemovesTheSocketAndExits0() throws {
        let daemon = try startDaemon()
        let connection = try LineConnection(socketPath: socketPath)
        defer { connection.close() }
        let count = 12
        var batch: [UInt8] = []
        for id in 1...count {
            let request: JSONValue = [
                "jsonrpc": "2.0", "id": .int(id), "method": "complete",
                "params": ["text": "Once upon a time", "max_tokens": 120],
            ]
            batch += request.serialized() + [0x0A]
        }
        try connection.send(raw: batch)
        _ = try connection.readLine(timeout: 30)  // the first answer: work is under way
        daemon.signal(SIGTERM)
        var answered = 1
        while let line = try connection.readLine(timeout: 30) {
            let reply = try JSONValue.parse(line)
            XCTAssertTrue(reply["result"] != nil || reply["error"]?["code"]?.intValue == -32800, "\(reply.description.prefix(200))")
            answered += 1
        }
        XCTAssertEqual(answered, count, "every request in flight is answered before the daemon goes")
        XCTAssertEqual(daemon.waitForExit(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
        XCTAssertTrue(daemon.log.contains("shutting down (SIGTERM)"), daemon.log)
    }

    func testSIGINTAlsoStopsCleanly() throws {
        let daemon = try startDaemon()
        daemon.signal(SIGINT)
        XCTAssertEqual(daemon.waitForExit(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
    }

    func testShutdownRequestAnswersNullAndStops() throws {
        let daemon = try startDaemon()
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        XCTAssertEqual(try client.call("shutdown"), .null)
        XCTAssertEqual(daemon.waitForExit(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
        XCTAssertTrue(daemon.log.contains("shutting down (shutdown requested)"), daemon.log)
    }

    func testStdioModeAnswersOnStdoutAndExitsAtEndOfInput() throws {
        let daemon = try DaemonProcess(arguments: ["--model", Fixtures.tinyModel.path, "--stdio"])
        let requests = """
            {"jsonrpc":"2.0","id":1,"method":"tokenize","params":{"text":"I wish I were"}}
            {"jsonrpc":"2.0","id":2,"method":"complete","params":{"text":"I wish I were","max_tokens":3,"stream":true}}
            {oops

            """
        daemon.input.fileHandleForWriting.write(Data(requests.utf8))
        try daemon.input.fileHandleForWriting.close()
        XCTAssertEqual(daemon.waitForExit(timeout: 60), 0)
        let output = String(decoding: daemon.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let messages = try output.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        let tiny = try XCTUnwrap(try Expected.cases().first { $0.prompt == "I wish I were" && !$0.addPrefixSpace })
        XCTAssertEqual(messages.first { $0["id"] == 1 }?["result"]?["ids"]?.intArray, tiny.ids)
        XCTAssertEqual(messages.first { $0["id"] == 2 }?["result"]?["ids"]?.intArray?.count, 3)
        XCTAssertEqual(messages.filter { $0["method"]?.stringValue == "complete/delta" }.count, 3)
        XCTAssertEqual(messages.first { $0["id"] == .null }?["error"]?["code"]?.intValue, -32700)
        XCTAssertEqual(messages.count, 6, "only protocol messages on stdout: \(output)")
        XCTAssertTrue(daemon.log.contains("stdin closed"), daemon.log)
    }

    func testAModelThatCannotLoadIsOneSentenceAndExit1() throws {
        let missing = folder.appendingPathComponent("no-such-model").path
        let outcome = try ProcessRunner.run(Products.executable("lmd"), ["--model", missing, "--socket", socketPath])
        XCTAssertEqual(outcome.status, 1)
        let lines = outcome.stderr.split(separator: "\n").filter { !$0.contains(" info: ") }
        XCTAssertEqual(lines.count, 1, outcome.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("lmd: the model folder \(missing) does not exist") ?? false, outcome.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath))
        // A folder that is there but holds no model.
        let empty = folder.appendingPathComponent("empty-model")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let notAModel = try ProcessRunner.run(Products.executable("lmd"), ["--model", empty.path, "--socket", socketPath])
        XCTAssertEqual(notAModel.status, 1)
        let sentence = notAModel.stderr.split(separator: "\n").filter { !$0.contains(" info: ") }
        XCTAssertEqual(sentence.count, 1, notAModel.stderr)
        XCTAssertTrue(sentence.first?.hasPrefix("lmd: cannot load the model at \(empty.path)") ?? false, notAModel.stderr)
        XCTAssertTrue(sentence.first?.contains("config.json") ?? false, notAModel.stderr)
    }

    func testWithoutAModelTheDefaultIsDistilgpt2FromTheHubCache() throws {
        // Offline with an empty cache: one sentence saying where it looked and how to fix it.
        var env = ProcessInfo.processInfo.environment
        env["HF_HUB_OFFLINE"] = "1"
        env["HF_HUB_CACHE"] = folder.appendingPathComponent("hf-cache").path
        let outcome = try ProcessRunner.run(Products.executable("lmd"), ["--socket", socketPath], environment: env)
        XCTAssertEqual(outcome.status, 1)
        XCTAssertTrue(outcome.stderr.contains("`distilgpt2` is not in the Hugging Face cache"), outcome.stderr)
        XCTAssertTrue(outcome.stderr.contains("lmctl pull distilgpt2"), outcome.stderr)
        XCTAssertEqual(outcome.stderr.split(separator: "\n").count, 1, outcome.stderr)
    }

    func testUsageErrorsExit2WithUsage() throws {
        let lmd = Products.executable("lmd")
        for arguments in [["--model"], ["--model", "m", "--threads", "zero"], ["--max-batch", "0"], ["--model", "m", "--bogus"], ["--model", "m", "--log-level", "loud"]] {
            let outcome = try ProcessRunner.run(lmd, arguments)
            XCTAssertEqual(outcome.status, 2, "\(arguments): \(outcome.stderr)")
            XCTAssertTrue(outcome.stderr.contains("usage: lmd"), "\(arguments): \(outcome.stderr)")
        }
        let help = try ProcessRunner.run(lmd, ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--add-prefix-space"))
    }
}
