import Foundation
import ModelHub
import TestSupport
import XCTest

/// HF_TOKEN goes to the hub and nowhere else.
final class HubTokenTests: HubTestCase {
    func testTokenIsSentToTheHubButNotToTheCDN() throws {
        server.stop()
        server = try HubTestServer(repos: ["tiny/gpt2": Self.fixtureRepo()], cdnHost: "localhost", sha256: Self.sha256)
        _ = try ModelHub.resolve("tiny/gpt2", environment: environment(["HF_TOKEN": "hf_test"]), options: fastRetries)
        let hub = server.requests.filter { $0.path.contains("/resolve/") }
        let cdn = server.requests.filter { $0.path.hasPrefix("/cdn/") }
        XCTAssertFalse(hub.isEmpty)
        XCTAssertEqual(cdn.count, 1)
        XCTAssertTrue(hub.allSatisfy { $0.headers["authorization"] == "Bearer hf_test" })
        XCTAssertTrue(cdn.allSatisfy { $0.headers["authorization"] == nil })
        XCTAssertTrue(server.requests.allSatisfy { $0.headers["accept-encoding"] == "identity" })
    }
}

/// Files whose length is not what the hub announced, and transfers that stall.
final class HubIntegrityTests: HubTestCase {
    /// Announced shorter than it is: refused as soon as the body runs past the announced size.
    func testLongerThanAnnouncedIsASizeMismatch() throws {
        server.misannounceSize(file: "model.safetensors", by: -10)
        try assertSizeMismatch(expectedAnnounced: -10)
    }

    /// Announced longer than it is: refused from the body's length (no endless resuming).
    func testShorterThanAnnouncedIsASizeMismatch() throws {
        server.misannounceSize(file: "model.safetensors", by: 10)
        try assertSizeMismatch(expectedAnnounced: 10)
        XCTAssertEqual(requests("GET").filter { $0.path.hasPrefix("/cdn/") }.count, 1)
    }

    private func assertSizeMismatch(expectedAnnounced delta: Int64, file: StaticString = #filePath, line: UInt = #line) throws {
        let weights = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors"))
        let sha = Self.sha256(weights)
        XCTAssertThrowsError(try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries), file: file, line: line) {
            guard case let ModelHubError.sizeMismatch(name, expected, _)? = $0 as? ModelHubError else {
                return XCTFail("\($0)", file: file, line: line)
            }
            XCTAssertEqual(name, "model.safetensors", file: file, line: line)
            XCTAssertEqual(expected, Int64(weights.count) + delta, file: file, line: line)
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: cacheRoot.appendingPathComponent("models--tiny--gpt2/blobs").path)
        XCTAssertFalse(blobs.contains { $0.hasPrefix(sha) }, "\(blobs)", file: file, line: line)
    }

    /// A connection that goes silent mid-file times out (after `timeout` seconds without a byte) and
    /// the retry resumes with a Range.
    func testStalledTransferTimesOutAndResumes() throws {
        server.stallOnce(file: "model.safetensors", afterBytes: 400_000, seconds: 8)
        var options = fastRetries
        options.timeout = 1
        let log = EventLog()
        let started = Date()
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: options, progress: log.handler)
        XCTAssertLessThan(Date().timeIntervalSince(started), 7, "the stall was cut by the timeout, not waited out")
        XCTAssertEqual(requests("GET").filter { $0.path.hasPrefix("/cdn/") }.last?.headers["range"], "bytes=400000-")
        XCTAssertEqual(try Data(contentsOf: model.directory.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors")))
        XCTAssertTrue(log.events.contains { if case .retrying = $0 { return true }; return false })
    }
}

/// No server at all.
final class HubNetworkErrorTests: HubTestCase {
    func testRefusedConnectionIsANetworkErrorAfterTwoRetries() throws {
        let deadEndpoint = server.endpoint
        server.stop()
        let log = EventLog()
        XCTAssertThrowsError(try ModelHub.resolve("tiny/gpt2", environment: environment(["HF_ENDPOINT": deadEndpoint]),
                                                  options: fastRetries, progress: log.handler)) { error in
            guard case let ModelHubError.network(url, reason)? = error as? ModelHubError else { return XCTFail("\(error)") }
            XCTAssertEqual(url, deadEndpoint + "/tiny/gpt2/resolve/main/config.json")
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue("\(error)".hasPrefix("could not download \(deadEndpoint)/tiny/gpt2/resolve/main/config.json: "))
        }
        XCTAssertEqual(log.events.filter { if case .retrying = $0 { return true }; return false }.count, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheRoot.appendingPathComponent("models--tiny--gpt2/snapshots").path))
    }
}
