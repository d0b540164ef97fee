import Foundation
import ModelHub
import TestSupport
import XCTest

/// Downloads from the loopback hub into huggingface_hub's cache layout.
final class HubDownloadTests: HubTestCase {
    /// A first resolve downloads; the files are byte-identical to the fixture; a second resolve is
    /// served from the cache without a single request.
    func testDownloadThenLoadFromCache() throws {
        let first = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        XCTAssertEqual(first.source, .download)
        XCTAssertEqual(first.commit, Self.mainCommit)
        XCTAssertEqual(first.directory.path, cacheRoot.path + "/models--tiny--gpt2/snapshots/\(Self.mainCommit)")
        for name in Self.fetchedFiles {
            let got = try Data(contentsOf: first.directory.appendingPathComponent(name))
            let want = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent(name))
            XCTAssertEqual(got, want, "\(name) differs from the fixture")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.directory.appendingPathComponent("tokenizer.json").path),
                       "vocab.json + merges.txt were there, so tokenizer.json is not fetched")
        XCTAssertFalse(server.requests.contains { $0.path.hasSuffix("/tokenizer.json") })

        let before = server.requests.count
        let second = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        XCTAssertEqual(second.source, .cache)
        XCTAssertEqual(second.directory, first.directory)
        XCTAssertEqual(server.requests.count, before, "a cached model needs no network")
    }

    /// blobs named by etag, relative symlinks from snapshots/<commit>/, refs/main holding the commit
    /// without a newline, lock files under .locks/, nothing .incomplete: as huggingface_hub leaves it.
    func testCacheLayoutIsHuggingFaceHubs() throws {
        _ = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        let repo = cacheRoot.appendingPathComponent("models--tiny--gpt2")
        let fm = FileManager.default
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: repo.path).sorted(), ["blobs", "refs", "snapshots"])
        XCTAssertEqual(try Data(contentsOf: repo.appendingPathComponent("refs/main")), Data(Self.mainCommit.utf8))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: repo.appendingPathComponent("snapshots").path), [Self.mainCommit])

        let snapshot = repo.appendingPathComponent("snapshots/\(Self.mainCommit)")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: snapshot.path).sorted(), Self.fetchedFiles)
        var expectedBlobs: [String] = []
        for name in Self.fetchedFiles {
            let content = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent(name))
            let sha = Self.sha256(content)
            // LFS files are named by their sha256 (X-Linked-Etag), others by the git etag (ETag).
            let etag = name.hasSuffix(".safetensors") ? sha : String(sha.prefix(40))
            expectedBlobs.append(etag)
            XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent(name).path),
                           "../../blobs/\(etag)", name)
            XCTAssertEqual(try Data(contentsOf: repo.appendingPathComponent("blobs/\(etag)")), content, name)
        }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: repo.appendingPathComponent("blobs").path).sorted(), expectedBlobs.sorted())
        let locks = try fm.contentsOfDirectory(atPath: cacheRoot.appendingPathComponent(".locks/models--tiny--gpt2").path)
        XCTAssertEqual(locks.sorted(), expectedBlobs.map { $0 + ".lock" }.sorted())
    }

    /// The connection drops 1 MB into the weights; the retry asks for `Range: bytes=1000000-` and the
    /// file ends up byte-identical.
    func testResumesAfterACutConnection() throws {
        server.cutOnce(file: "model.safetensors", afterBytes: 1_000_000)
        let log = EventLog()
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries, progress: log.handler)
        let gets = requests("GET").filter { $0.path.hasPrefix("/cdn/") }
        XCTAssertEqual(gets.count, 2)
        XCTAssertNil(gets.first?.headers["range"])
        XCTAssertEqual(gets.last?.headers["range"], "bytes=1000000-")
        XCTAssertEqual(try Data(contentsOf: model.directory.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors")))
        XCTAssertTrue(log.events.contains { if case .retrying(file: "model.safetensors", attempt: 1, _) = $0 { return true }; return false })
    }

    /// With no retries, a cut leaves only `<etag>.incomplete` (never a complete-looking blob or link);
    /// the next run, maybe another process, resumes from it with a Range.
    func testResumesAPartialFileFromAnEarlierRun() throws {
        var once = fastRetries
        once.maxRetries = 0
        server.cutOnce(file: "model.safetensors", afterBytes: 2_500_000)
        XCTAssertThrowsError(try ModelHub.resolve("tiny/gpt2", environment: environment(), options: once)) { error in
            guard case ModelHubError.network? = error as? ModelHubError else { return XCTFail("\(error)") }
        }
        let weights = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors"))
        let sha = Self.sha256(weights)
        let blobs = cacheRoot.appendingPathComponent("models--tiny--gpt2/blobs")
        let partial = try Data(contentsOf: blobs.appendingPathComponent(sha + ".incomplete"))
        XCTAssertEqual(partial, weights.prefix(2_500_000))
        XCTAssertFalse(FileManager.default.fileExists(atPath: blobs.appendingPathComponent(sha).path))
        let link = cacheRoot.appendingPathComponent("models--tiny--gpt2/snapshots/\(Self.mainCommit)/model.safetensors")
        XCTAssertFalse(FileManager.default.fileExists(atPath: link.path))
        XCTAssertNil(ModelHub.cachedSnapshot(try ModelID(parsing: "tiny/gpt2"), environment: environment()))

        let log = EventLog()
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: once, progress: log.handler)
        XCTAssertEqual(requests("GET").filter { $0.path.hasPrefix("/cdn/") }.last?.headers["range"], "bytes=2500000-")
        XCTAssertEqual(try Data(contentsOf: model.directory.appendingPathComponent("model.safetensors")), weights)
        XCTAssertFalse(FileManager.default.fileExists(atPath: blobs.appendingPathComponent(sha + ".incomplete").path))
        let started = log.events.compactMap { event -> HubFile? in if case let .fileStarted(f) = event { return f }; return nil }
        XCTAssertEqual(started.first { $0.name == "model.safetensors" }?.resumeFrom, 2_500_000)
    }

    /// A server that ignores Range sends the whole file again; the partial file is restarted, not appended to.
    func testServerIgnoringRangeRestartsTheFile() throws {
        server.ignoreRanges()
        server.cutOnce(file: "model.safetensors", afterBytes: 700_000)
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        XCTAssertEqual(requests("GET").filter { $0.path.hasPrefix("/cdn/") }.last?.headers["range"], "bytes=700000-")
        XCTAssertEqual(try Data(contentsOf: model.directory.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors")))
    }

    /// A body that does not hash to its sha256 etag: a checksum error, and nothing that looks complete.
    func testCorruptFileIsRejectedAndRemoved() throws {
        server.corrupt(file: "model.safetensors")
        let weights = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors"))
        let sha = Self.sha256(weights)
        XCTAssertThrowsError(try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)) { error in
            guard case let ModelHubError.checksumMismatch(file, expected, actual)? = error as? ModelHubError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, "model.safetensors")
            XCTAssertEqual(expected, sha)
            XCTAssertNotEqual(actual, sha)
            XCTAssertTrue("\(error)".contains("corrupt"))
        }
        let repo = cacheRoot.appendingPathComponent("models--tiny--gpt2")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("blobs").path)
        XCTAssertFalse(blobs.contains(sha))
        XCTAssertFalse(blobs.contains(sha + ".incomplete"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo.appendingPathComponent("snapshots/\(Self.mainCommit)/model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo.appendingPathComponent("refs/main").path))
        XCTAssertThrowsError(try ModelHub.resolve("tiny/gpt2", environment: environment(["HF_HUB_OFFLINE": "1"])))
    }

    func testUnknownRepositoryIsRepoNotFound() {
        assertThrows(.repoNotFound(id: "nobody/nothing", endpoint: server.endpoint)) {
            _ = try ModelHub.resolve("nobody/nothing", environment: environment(), options: fastRetries)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheRoot.appendingPathComponent("models--nobody--nothing/snapshots").path))
    }

    func testMissingWeightsIsFileNotFound() {
        server.remove(file: "model.safetensors")
        assertThrows(.fileNotFound(id: "tiny/gpt2", revision: "main", file: "model.safetensors (or model.safetensors.index.json)")) {
            _ = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        }
        XCTAssertTrue(server.requests.contains { $0.method == "HEAD" && $0.path.hasSuffix("/model.safetensors.index.json") })
    }

    func testUnknownRevisionIsRevisionNotFound() {
        assertThrows(.revisionNotFound(id: "tiny/gpt2", revision: "v9")) {
            _ = try ModelHub.resolve("tiny/gpt2@v9", environment: environment(), options: fastRetries)
        }
    }

    /// `@v1` fetches that tag's commit and records refs/v1; a full commit hash is the snapshot name
    /// itself and writes no ref.
    func testRevisionsAndCommitHashes() throws {
        let v1 = try ModelHub.resolve("tiny/gpt2@v1", environment: environment(), options: fastRetries)
        XCTAssertEqual(v1.commit, Self.v1Commit)
        XCTAssertEqual(v1.id?.revision, "v1")
        XCTAssertEqual(String(decoding: try Data(contentsOf: v1.directory.appendingPathComponent("config.json")), as: UTF8.self),
                       #"{"model_type": "gpt2", "n_layer": 2, "revision": "v1"}"#)
        let refs = cacheRoot.appendingPathComponent("models--tiny--gpt2/refs")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: refs.path), ["v1"])
        XCTAssertEqual(try String(contentsOf: refs.appendingPathComponent("v1"), encoding: .utf8), Self.v1Commit)
        // Every file after the first is asked for by commit, so a moving branch cannot mix versions.
        let paths = requests("HEAD").map(\.path)
        XCTAssertEqual(paths.first, "/tiny/gpt2/resolve/v1/config.json")
        XCTAssertTrue(paths.dropFirst().allSatisfy { $0.contains("/resolve/\(Self.v1Commit)/") }, "\(paths)")

        let byHash = try ModelHub.resolve("tiny/gpt2@\(Self.mainCommit)", environment: environment(), options: fastRetries)
        XCTAssertEqual(byHash.directory.lastPathComponent, Self.mainCommit)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: refs.path), ["v1"])
        // Blobs shared between the commits were not fetched twice.
        let weightGets = requests("GET").filter { $0.path.hasPrefix("/cdn/") }
        XCTAssertEqual(weightGets.count, 1)

        let offline = environment(["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(try ModelHub.resolve("tiny/gpt2@v1", environment: offline).directory, v1.directory)
        XCTAssertEqual(try ModelHub.resolve("tiny/gpt2@\(Self.mainCommit)", environment: offline).source, .cache)
    }

    /// A revision with a slash (`refs/pr/1`) is percent-encoded in the URL and nested under refs/.
    func testSlashedRevisionIsEncodedAndNested() throws {
        server.stop()
        var repo = try Self.fixtureRepo()
        repo.refs["refs/pr/1"] = Self.v1Commit
        server = try HubTestServer(repos: ["tiny/gpt2": repo], sha256: Self.sha256)
        let model = try ModelHub.resolve("tiny/gpt2@refs/pr/1", environment: environment(), options: fastRetries)
        XCTAssertEqual(model.commit, Self.v1Commit)
        XCTAssertEqual(requests("HEAD").first?.path, "/tiny/gpt2/resolve/refs%2Fpr%2F1/config.json")
        let ref = cacheRoot.appendingPathComponent("models--tiny--gpt2/refs/refs/pr/1")
        XCTAssertEqual(try String(contentsOf: ref, encoding: .utf8), Self.v1Commit)
    }

    /// Weights split into shards: the index is fetched first, then each shard it names.
    func testShardedWeights() throws {
        server.stop()
        var files = try Self.fixtureFiles()
        let weights = files.removeValue(forKey: "model.safetensors")!
        let half = weights.count / 2
        files["model-00001-of-00002.safetensors"] = weights.prefix(half)
        files["model-00002-of-00002.safetensors"] = weights.suffix(from: half)
        files["model.safetensors.index.json"] = Data(#"""
            {"metadata": {"total_size": 1}, "weight_map": {"wte.weight": "model-00001-of-00002.safetensors",
             "wpe.weight": "model-00001-of-00002.safetensors", "h.0.attn.c_attn.weight": "model-00002-of-00002.safetensors"}}
            """#.utf8)
        server = try HubTestServer(repos: ["tiny/sharded": HubTestRepo(commits: [Self.mainCommit: files], refs: ["main": Self.mainCommit])],
                                   sha256: Self.sha256)
        let model = try ModelHub.resolve("tiny/sharded", environment: environment(), options: fastRetries)
        for name in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"] {
            XCTAssertEqual(try Data(contentsOf: model.directory.appendingPathComponent(name)), files[name], name)
        }
        XCTAssertEqual(try ModelHub.resolve("tiny/sharded", environment: environment(["HF_HUB_OFFLINE": "yes"])).source, .cache)
    }

    /// No vocab.json + merges.txt: tokenizer.json instead.
    func testTokenizerJSONWhenNoVocabAndMerges() throws {
        server.remove(file: "merges.txt")
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        let names = try FileManager.default.contentsOfDirectory(atPath: model.directory.path)
        XCTAssertTrue(names.contains("tokenizer.json"))
        XCTAssertFalse(names.contains("merges.txt"))
    }

    /// Optional extras that 404 are skipped.
    func testMissingOptionalFilesAreSkipped() throws {
        server.remove(file: "generation_config.json")
        server.remove(file: "tokenizer_config.json")
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: model.directory.path).sorted(),
                       ["config.json", "merges.txt", "model.safetensors", "vocab.json"])
    }

    /// An id without an org (`distilgpt2`) uses `models--distilgpt2`; the hub's relative redirect for a
    /// renamed repository is followed, the cache folder keeps the name asked for.
    func testIdWithoutOrgAndRenamedRepository() throws {
        server.stop()
        server = try HubTestServer(repos: ["distilbert/distilgpt2": Self.fixtureRepo()], aliases: ["distilgpt2": "distilbert/distilgpt2"],
                                   sha256: Self.sha256)
        let model = try ModelHub.resolve("distilgpt2", environment: environment(), options: fastRetries)
        XCTAssertEqual(model.directory.path, cacheRoot.path + "/models--distilgpt2/snapshots/\(Self.mainCommit)")
        XCTAssertTrue(requests("HEAD").contains { $0.path == "/distilbert/distilgpt2/resolve/main/config.json" })
        XCTAssertEqual(try ModelHub.resolve("distilgpt2", environment: environment(["HF_HUB_OFFLINE": "true"])).source, .cache)
    }

    /// `pull` asks the hub for the current commit even when cached, but fetches no blob it has.
    func testPullWhenCachedChecksButDoesNotRefetch() throws {
        _ = try ModelHub.pull("tiny/gpt2", environment: environment(), options: fastRetries)
        let getsBefore = requests("GET").count
        let headsBefore = requests("HEAD").count
        let log = EventLog()
        let again = try ModelHub.pull("tiny/gpt2", environment: environment(), options: fastRetries, progress: log.handler)
        XCTAssertEqual(again.source, .cache, "nothing was fetched")
        XCTAssertEqual(log.events.count, 1)
        guard case .finished(_, _, 0, _)? = log.events.first else { return XCTFail("\(log.events)") }
        XCTAssertEqual(requests("GET").count, getsBefore)
        XCTAssertGreaterThan(requests("HEAD").count, headsBefore)
    }

    /// Events: a plan with the right total, rising byte counts, each file finished, then the end.
    func testProgressEvents() throws {
        let log = EventLog()
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries, progress: log.handler)
        let events = log.events
        guard case let .started(name, commit, files, total)? = events.first else { return XCTFail("\(events.first as Any)") }
        XCTAssertEqual(name, "tiny/gpt2")
        XCTAssertEqual(commit, Self.mainCommit)
        XCTAssertEqual(files.map(\.name).sorted(), Self.fetchedFiles)
        let fixtureTotal = try Self.fetchedFiles.reduce(Int64(0)) {
            $0 + Int64(try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent($1)).count)
        }
        XCTAssertEqual(total, fixtureTotal)
        let progress = events.compactMap { event -> HubProgress? in if case let .progress(p) = event { return p }; return nil }
        XCTAssertEqual(zip(progress, progress.dropFirst()).filter { $0.bytes > $1.bytes }.count, 0, "bytes never go back")
        XCTAssertEqual(progress.last?.bytes, fixtureTotal)
        XCTAssertEqual(Set(events.compactMap { event -> String? in if case let .fileFinished(f, _) = event { return f }; return nil }),
                       Set(Self.fetchedFiles))
        guard case let .finished(_, directory, bytes, _)? = events.last else { return XCTFail("\(events.last as Any)") }
        XCTAssertEqual(directory, model.directory)
        XCTAssertEqual(bytes, fixtureTotal)
    }
}
