import LMClient
import LMProtocol
import TestSupport
import XCTest

/// Every `protocol/examples/*.jsonl` replayed against a live lmd (one daemon per transcript, with its
/// `daemon_args`), so that the documented examples are what the daemon really says over its socket.
final class TranscriptExamplesTests: DaemonTestCase {
    func testEveryExampleTranscriptReplaysAgainstALiveDaemon() throws {
        let examples = Fixtures.repositoryRoot.appendingPathComponent("protocol/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".jsonl") }.sorted()
        XCTAssertFalse(files.isEmpty, "no transcripts in \(examples.path)")
        for file in files {
            let text = try String(contentsOf: examples.appendingPathComponent(file), encoding: .utf8)
            let transcript = try ReplayTranscript(name: file, text: text)
            XCTAssertFalse(transcript.expected.isEmpty, "\(file) expects something")
            let socket = folder.appendingPathComponent("\(files.firstIndex(of: file) ?? 0).sock").path
            let daemon = try startDaemon(transcript.daemonArguments, socket: socket)
            let problems = try TranscriptReplayer.replay(transcript, socketPath: socket, timeout: 60)
            XCTAssertEqual(problems, [], "\(file): \(problems.count) differences")
            if file == "shutdown.jsonl" {
                XCTAssertEqual(daemon.waitForExit(), 0, "\(file): lmd exits 0 after shutdown")
            } else {
                daemon.signal(SIGTERM)
                XCTAssertEqual(daemon.waitForExit(), 0, "\(file): \(daemon.log)")
            }
        }
    }
}
