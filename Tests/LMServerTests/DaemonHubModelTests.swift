import Foundation
import LMClient
import LMProtocol
import ModelHub
import TestSupport
import XCTest

/// `lmd --model ORG/NAME`: the id is fetched from a hub (a loopback one here) into the Hugging Face
/// cache, then served; a second start finds it in the cache with no network at all.
final class DaemonHubModelTests: DaemonTestCase {
    func testAHubIdIsDownloadedOnceThenServedFromTheCache() throws {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.tinyModel.path) {
            files[name] = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent(name))
        }
        let commit = "0b1d7c5e9f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c"
        let hub = try HubTestServer(
            repos: ["tiny/gpt2": HubTestRepo(commits: [commit: files], refs: ["main": commit])],
            sha256: { SHA256.hex(of: $0) })
        defer { hub.stop() }
        let cache = folder.appendingPathComponent("hf")
        var env = ProcessInfo.processInfo.environment
        env["HF_ENDPOINT"] = hub.endpoint
        env["HF_HUB_CACHE"] = cache.path
        env.removeValue(forKey: "HF_HUB_OFFLINE")

        let first = try startLmd(["--model", "tiny/gpt2", "--socket", socketPath], environment: env)
        let client = try LMClient(socketPath: socketPath)
        let info = try client.call("info")
        XCTAssertEqual(info["n_layer"], 2)
        XCTAssertEqual(try client.call("topk", params: ["text": "I wish I were", "k": 1])["ids"]?.intArray, [16017])
        _ = try client.call("shutdown")
        client.close()
        XCTAssertEqual(ProcessRunner.waitForExit(first.process, timeout: 30) ? ProcessRunner.exitStatus(first.process) : nil, 0)
        let log = try String(contentsOf: first.log, encoding: .utf8)
        XCTAssertTrue(log.contains("Downloading tiny/gpt2"), log)
        XCTAssertTrue(log.contains("model.safetensors"), log)

        // The layout huggingface_hub uses: refs/main → snapshots/<commit>/file → ../../blobs/<etag>.
        let repo = cache.appendingPathComponent("models--tiny--gpt2")
        XCTAssertEqual(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8), commit)
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: repo.appendingPathComponent("snapshots/\(commit)/model.safetensors").path)
        XCTAssertTrue(link.hasPrefix("../../blobs/"), link)

        // Offline now: found in the cache, no request reaches the hub.
        let requestsBefore = hub.requests.count
        env["HF_HUB_OFFLINE"] = "1"
        let second = try startLmd(["--model", "tiny/gpt2", "--socket", socketPath], environment: env)
        let again = try LMClient(socketPath: socketPath)
        XCTAssertEqual(try again.call("info")["model"]?.stringValue, "tiny/gpt2")
        _ = try again.call("shutdown")
        again.close()
        XCTAssertTrue(ProcessRunner.waitForExit(second.process, timeout: 30))
        XCTAssertEqual(hub.requests.count, requestsBefore)
    }

    /// Starts lmd with an environment and waits until it listens.
    private func startLmd(_ arguments: [String], environment: [String: String]) throws -> (process: Process, log: URL) {
        let log = folder.appendingPathComponent("lmd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = Products.executable("lmd")
        process.arguments = arguments
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !DaemonProcess.canConnect(socketPath) {
            guard process.isRunning, Date() < deadline else {
                if process.isRunning { process.terminate() }
                throw DaemonProcessError("lmd did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            usleep(20_000)
        }
        return (process, log)
    }
}

/// `lmd --dtype`: weights converted at load, reported by `info`; a bad name is one sentence.
final class DaemonPrecisionTests: DaemonTestCase {
    func testDtypeFlagConvertsTheWeights() throws {
        let daemon = try startDaemon(["--dtype", "bf16"])
        let client = try LMClient(socketPath: socketPath)
        XCTAssertEqual(try client.call("info")["dtype"], "bfloat16")
        XCTAssertEqual(try client.call("topk", params: ["text": "I wish I were", "k": 3])["ids"]?.arrayValue?.count, 3)
        client.close()
        daemon.signal()
        XCTAssertEqual(daemon.waitForExit(), 0)
        let bad = try ProcessRunner.run(Products.executable("lmd"), ["--model", Fixtures.tinyModel.path, "--socket", socketPath, "--dtype", "f8"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("--dtype must be one of f32, f16, bf16, q8_0, not f8"), bad.stderr)
    }
}
