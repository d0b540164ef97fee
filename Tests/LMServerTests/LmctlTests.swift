import LMClient
import LMProtocol
import TestSupport
import XCTest

/// lmctl run as a process against a real lmd: output, exit codes, autostart.
final class LmctlTests: DaemonTestCase {
    private func lmctl(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessOutcome {
        var env = environment ?? ProcessInfo.processInfo.environment
        env["LMD_MODEL"] = environment?["LMD_MODEL"]
        return try ProcessRunner.run(Products.executable("lmctl"), ["--socket", socketPath] + arguments, environment: env)
    }

    func testCommandsPrintTheirResults() throws {
        let daemon = try startDaemon()
        let reference = try XCTUnwrap(try Expected.cases().first { $0.prompt == "This weekend I plan to" && !$0.addPrefixSpace })

        let tokenize = try lmctl(["tokenize", "This weekend I plan to"])
        XCTAssertEqual(tokenize.status, 0, tokenize.stderr)
        let tokenLines = tokenize.stdout.split(separator: "\n")
        XCTAssertEqual(tokenLines.count, reference.ids.count)
        XCTAssertTrue(tokenLines[1].contains("\(reference.ids[1])") && tokenLines[1].contains(#"" weekend""#), tokenize.stdout)

        let detokenize = try lmctl(["detokenize"] + reference.ids.map(String.init))
        XCTAssertEqual(detokenize.status, 0, detokenize.stderr)
        XCTAssertEqual(detokenize.stdout, "This weekend I plan to\n")

        let topk = try lmctl(["topk", "This weekend I plan to", "5"])
        XCTAssertEqual(topk.status, 0, topk.stderr)
        let rows = topk.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        XCTAssertEqual(rows.count, 5, topk.stdout)
        XCTAssertEqual(rows.map { $0.first.map(String.init) }, ["1", "2", "3", "4", "5"])
        let probabilities = rows.compactMap { $0.last.flatMap { Double($0) } }
        XCTAssertEqual(probabilities.count, 5)
        XCTAssertEqual(probabilities, probabilities.sorted(by: >))
        XCTAssertEqual(probabilities[0], Double(reference.top20Probs[0]), accuracy: 1e-4)
        XCTAssertTrue(topk.stdout.contains(JSONValue.string(reference.top20Tokens[0]).description), topk.stdout)

        let complete = try lmctl(["complete", "This weekend I plan to", "--max-tokens", "5"])
        XCTAssertEqual(complete.status, 0, complete.stderr)
        let streamed = try lmctl(["complete", "This weekend I plan to", "--max-tokens", "5", "--stream"])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertEqual(streamed.stdout, complete.stdout, "streaming prints the same text")
        let client = try LMClient(socketPath: socketPath)
        defer { client.close() }
        let direct = try client.call("complete", params: ["text": "This weekend I plan to", "max_tokens": 5])
        XCTAssertEqual(complete.stdout, (direct["text"]?.stringValue ?? "?") + "\n")

        let forward = try lmctl(["forward", "This weekend I plan to", "--last"])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        XCTAssertTrue(forward.stdout.hasPrefix("logits: 1 × 50257\n"), forward.stdout)
        XCTAssertTrue(forward.stdout.contains("(\(reference.top20Ids[0]))"), "best next token: \(forward.stdout)")

        let info = try lmctl(["info"])
        XCTAssertEqual(info.status, 0)
        XCTAssertTrue(info.stdout.contains("vocab_size:") && info.stdout.contains("50257"), info.stdout)

        let json = try lmctl(["--json", "topk", "This weekend I plan to", "3"])
        XCTAssertEqual(json.status, 0)
        XCTAssertEqual(try JSONValue.parse(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["ids"]?.intArray,
                       Array(reference.top20Ids.prefix(3)))

        let call = try lmctl(["call", "detokenize", #"{"ids":[40, 4601]}"#])
        XCTAssertEqual(call.status, 0, call.stderr)
        XCTAssertEqual(try JSONValue.parse(call.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["text"]?.stringValue, "I wish")
        _ = daemon
    }

    func testUsageErrorsExit2AndDaemonErrorsExit1() throws {
        let daemon = try startDaemon()
        for arguments in [[], ["frobnicate"], ["topk", "text", "many"], ["complete", "x", "--max-tokens"], ["detokenize", "one"],
                          ["call", "info", "{bad json"], ["tokenize"], ["tokenize", "a", "b"]] {
            let outcome = try lmctl(arguments)
            XCTAssertEqual(outcome.status, 2, "\(arguments): \(outcome.stderr)")
            XCTAssertTrue(outcome.stderr.contains("usage: lmctl"), "\(arguments): \(outcome.stderr)")
        }
        let refused = try lmctl(["detokenize", "99999999"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("lmctl: lmd refused the request:"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("-32602"), refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, "a sentence, not a trace")
        let help = try lmctl(["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("usage: lmctl"))
        _ = daemon
    }

    func testNothingListeningWithNoStartOrNoModelIsExit1() throws {
        let noStart = try lmctl(["--no-start", "info"])
        XCTAssertEqual(noStart.status, 1)
        XCTAssertTrue(noStart.stderr.contains("lmd is not running"), noStart.stderr)
        // No model given: lmctl starts lmd with the default, distilgpt2, which offline and uncached
        // cannot load; lmctl passes lmd's sentence on.
        var offline = ProcessInfo.processInfo.environment
        offline["HF_HUB_OFFLINE"] = "1"
        offline["HF_HUB_CACHE"] = folder.appendingPathComponent("hf-cache").path
        let noModel = try lmctl(["info"], environment: offline)
        XCTAssertEqual(noModel.status, 1)
        XCTAssertTrue(noModel.stderr.contains("with model distilgpt2"), noModel.stderr)
        XCTAssertTrue(noModel.stderr.contains("lmctl pull distilgpt2"), noModel.stderr)
        let shutdown = try lmctl(["--model", Fixtures.tinyModel.path, "shutdown"])
        XCTAssertEqual(shutdown.status, 1, "shutdown does not start a daemon just to stop it")
        XCTAssertFalse(DaemonProcess.canConnect(socketPath))
    }

    func testAutostartsLmdWithTheModelAndStopsItWithShutdown() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LMD_MODEL"] = Fixtures.tinyModel.path
        // Whatever happens below, the daemon this starts must not outlive the test.
        defer { _ = try? lmctl(["--no-start", "shutdown"]) }
        let first = try lmctl(["tokenize", "I wish I were"], environment: environment)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("starting"), first.stderr)
        XCTAssertEqual(first.stdout.split(separator: "\n").count, 4)
        XCTAssertTrue(DaemonProcess.canConnect(socketPath), "the started daemon keeps running")

        let second = try lmctl(["info"])
        XCTAssertEqual(second.status, 0)
        XCTAssertEqual(second.stderr, "", "no second start")

        let stop = try lmctl(["shutdown"])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        waitFor("the socket to go") { !FileManager.default.fileExists(atPath: socketPath) }
    }
}
