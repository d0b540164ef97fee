import Foundation
import ModelHub
import TestSupport
import XCTest

/// Shared set-up for tests that talk to the loopback hub: the fixture as a repository, a fresh
/// cache per test, and an explicit environment (the process environment is never read or changed).
class HubTestCase: XCTestCase {
    /// The commit `main` points at in the fixture repository.
    static let mainCommit = "0b1d7c5e9f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c"
    /// A second commit, tagged `v1`, whose config differs.
    static let v1Commit = "7e3a9c1b5d7f9e1a3c5e7a9b1d3f5a7c9e1b3d5f"
    /// The six files a download of the fixture fetches (tokenizer.json is not: vocab + merges suffice).
    static let fetchedFiles = ["config.json", "generation_config.json", "merges.txt", "model.safetensors",
                               "tokenizer_config.json", "vocab.json"]

    private static let shaLock = NSLock()
    nonisolated(unsafe) private static var shaMemo: [Data: String] = [:]

    /// SHA-256 hex, memoized: the fixture's 11 MB are hashed once per test run, not per server.
    static func sha256(_ data: Data) -> String {
        shaLock.lock()
        if let known = shaMemo[data] { shaLock.unlock(); return known }
        shaLock.unlock()
        let hex = SHA256.hex(of: data)
        shaLock.lock()
        shaMemo[data] = hex
        shaLock.unlock()
        return hex
    }

    /// Every file of Tests/Fixtures/tiny-gpt2 by name.
    static func fixtureFiles() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.tinyModel.path) {
            files[name] = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent(name))
        }
        return files
    }

    /// The fixture as a hub repository: `main` → mainCommit; `v1` → v1Commit (another config.json).
    static func fixtureRepo() throws -> HubTestRepo {
        let files = try fixtureFiles()
        var v1 = files
        v1["config.json"] = Data(#"{"model_type": "gpt2", "n_layer": 2, "revision": "v1"}"#.utf8)
        return HubTestRepo(commits: [mainCommit: files, v1Commit: v1], refs: ["main": mainCommit, "v1": v1Commit])
    }

    var server: HubTestServer!
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = try Fixtures.temporaryDirectory("hub")
        server = try HubTestServer(repos: ["tiny/gpt2": Self.fixtureRepo()], sha256: Self.sha256)
    }

    override func tearDownWithError() throws {
        server?.stop()
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// The cache root tests use (HF_HUB_CACHE).
    var cacheRoot: URL { scratch.appendingPathComponent("hub-cache") }

    /// An environment pointing at the loopback hub and this test's cache; `HOME` too, so that no
    /// default can reach the user's real cache.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ["HF_HUB_CACHE": cacheRoot.path, "HF_ENDPOINT": server.endpoint, "HOME": scratch.path]
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Options that retry at once, so tests do not sleep.
    var fastRetries: HubOptions {
        var options = HubOptions()
        options.retryDelay = 0
        options.timeout = 10
        return options
    }

    /// The requests the server saw whose method is `method`.
    func requests(_ method: String) -> [HubTestRequest] { server.requests.filter { $0.method == method } }

    /// Asserts that `body` throws exactly `expected`.
    func assertThrows(_ expected: ModelHubError, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected \(expected), got no error", file: file, line: line)
        } catch let error as ModelHubError {
            XCTAssertEqual(error, expected, file: file, line: line)
        } catch {
            XCTFail("expected \(expected), got \(error)", file: file, line: line)
        }
    }

    /// Collects events from a download (they arrive on a background thread).
    final class EventLog: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [HubEvent] = []
        /// The handler to pass in.
        var handler: HubProgressHandler { { [self] e in lock.lock(); list.append(e); lock.unlock() } }
        /// Everything so far.
        var events: [HubEvent] { lock.lock(); defer { lock.unlock() }; return list }
    }
}
