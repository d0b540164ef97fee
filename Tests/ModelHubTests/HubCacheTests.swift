import Foundation
import ModelHub
import TestSupport
import XCTest

/// Offline use, where the cache is, and listing what it holds.
final class HubCacheTests: HubTestCase {
    /// Cached + HF_HUB_OFFLINE: found, and not one request (the endpoint is even a dead one).
    func testOfflineFindsCachedModelWithoutNetwork() throws {
        let downloaded = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        let before = server.requests.count
        for value in ["1", "true", "YES", "on"] {
            let env = environment(["HF_HUB_OFFLINE": value, "HF_ENDPOINT": "http://127.0.0.1:9"])
            let model = try ModelHub.resolve("tiny/gpt2", environment: env)
            XCTAssertEqual(model.source, .cache, value)
            XCTAssertEqual(model.directory, downloaded.directory)
            XCTAssertEqual(try ModelHub.pull("tiny/gpt2", environment: env).source, .cache)
        }
        XCTAssertEqual(server.requests.count, before)
    }

    /// Not cached + HF_HUB_OFFLINE: the sentence that says what to do, and no request.
    func testOfflineNotCachedSaysWhatToDo() {
        let env = environment(["HF_HUB_OFFLINE": "1"])
        assertThrows(.offlineNotCached(id: "tiny/gpt2", cache: cacheRoot.path)) {
            _ = try ModelHub.resolve("tiny/gpt2", environment: env)
        }
        assertThrows(.offlineNotCached(id: "tiny/gpt2@v1", cache: cacheRoot.path)) {
            _ = try ModelHub.pull("tiny/gpt2@v1", environment: env)
        }
        XCTAssertEqual(ModelHubError.offlineNotCached(id: "gpt2", cache: "/c").description,
                       "`gpt2` is not in the Hugging Face cache at /c and HF_HUB_OFFLINE is set; "
                           + "run `lmctl pull gpt2` while online or pass a folder")
        XCTAssertTrue(server.requests.isEmpty)
    }

    /// HF_HUB_OFFLINE=0 or empty is online.
    func testOfflineFalseValuesDownload() throws {
        for value in ["0", "", "false"] {
            XCTAssertFalse(HubSettings(environment: ["HF_HUB_OFFLINE": value]).offline, value)
        }
        let model = try ModelHub.resolve("tiny/gpt2", environment: environment(["HF_HUB_OFFLINE": "0"]), options: fastRetries)
        XCTAssertEqual(model.source, .download)
    }

    /// A model a huggingface_hub user already has, laid out by hand as huggingface_hub writes it, is
    /// found offline (and a snapshot missing its weights is not).
    func testFindsASnapshotWrittenByHuggingFaceHub() throws {
        let repo = cacheRoot.appendingPathComponent("models--openai-community--gpt2")
        let snapshot = repo.appendingPathComponent("snapshots/\(Self.v1Commit)")
        let fm = FileManager.default
        try fm.createDirectory(at: repo.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try Data(Self.v1Commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        for name in ["config.json", "vocab.json", "merges.txt"] {
            let etag = "etag-" + name.replacingOccurrences(of: ".", with: "-")
            try fm.copyItem(at: Fixtures.tinyModel.appendingPathComponent(name), to: repo.appendingPathComponent("blobs/\(etag)"))
            try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path, withDestinationPath: "../../blobs/\(etag)")
        }
        let env = environment(["HF_HUB_OFFLINE": "1"])
        assertThrows(.offlineNotCached(id: "openai-community/gpt2", cache: cacheRoot.path)) {
            _ = try ModelHub.resolve("openai-community/gpt2", environment: env)
        }
        // A dangling link is not a file.
        try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path, withDestinationPath: "../../blobs/gone")
        XCTAssertNil(ModelHub.cachedSnapshot(try ModelID(parsing: "openai-community/gpt2"), environment: env))
        try fm.copyItem(at: Fixtures.tinyModel.appendingPathComponent("model.safetensors"), to: repo.appendingPathComponent("blobs/gone"))
        let model = try ModelHub.resolve("openai-community/gpt2", environment: env)
        XCTAssertEqual(model.directory.path, snapshot.path)
        XCTAssertEqual(model.commit, Self.v1Commit)
    }

    /// HF_HUB_CACHE wins over HF_HOME; HF_HOME/hub is used when it is alone; downloads go there.
    func testCacheRootPrecedence() throws {
        let hubCache = scratch.appendingPathComponent("explicit")
        let hfHome = scratch.appendingPathComponent("hfhome")
        let both = ["HF_HUB_CACHE": hubCache.path, "HF_HOME": hfHome.path, "HF_ENDPOINT": server.endpoint, "HOME": scratch.path]
        _ = try ModelHub.resolve("tiny/gpt2", environment: both, options: fastRetries)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hubCache.appendingPathComponent("models--tiny--gpt2/refs/main").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: hfHome.path))

        let homeOnly = ["HF_HOME": hfHome.path, "HF_ENDPOINT": server.endpoint, "HOME": scratch.path]
        let model = try ModelHub.resolve("tiny/gpt2", environment: homeOnly, options: fastRetries)
        XCTAssertEqual(model.source, .download)
        XCTAssertTrue(model.directory.path.hasPrefix(hfHome.path + "/hub/models--tiny--gpt2/snapshots/"))
    }

    func testCacheRootDefaults() {
        XCTAssertEqual(ModelHub.cacheDirectory(environment: ["HOME": "/home/u"]).path, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(ModelHub.cacheDirectory(environment: ["HOME": "/home/u", "XDG_CACHE_HOME": "/x"]).path, "/x/huggingface/hub")
        XCTAssertEqual(ModelHub.cacheDirectory(environment: ["HOME": "/home/u", "HF_HOME": "~/hf"]).path, "/home/u/hf/hub")
        XCTAssertEqual(ModelHub.cacheDirectory(environment: ["HOME": "/home/u", "HF_HOME": "/a", "HF_HUB_CACHE": "/b"]).path, "/b")
        XCTAssertEqual(ModelHub.cacheDirectory(environment: ["HOME": "/home/u", "HF_HOME": "/a", "HUGGINGFACE_HUB_CACHE": "/old"]).path, "/old")
        XCTAssertEqual(HubSettings(environment: [:]).endpoint, "https://huggingface.co")
        XCTAssertEqual(HubSettings(environment: ["HF_ENDPOINT": "https://mirror.example/"]).endpoint, "https://mirror.example")
    }

    /// Listing: id, commit, refs, size of the blobs, completeness; a half-downloaded model shows as
    /// incomplete with what it lacks and the bytes of its partial download.
    func testCachedModelsListing() throws {
        XCTAssertEqual(try ModelHub.cachedModels(environment: environment()), [], "no cache folder yet")
        _ = try ModelHub.resolve("tiny/gpt2", environment: environment(), options: fastRetries)
        _ = try ModelHub.resolve("tiny/gpt2@v1", environment: environment(), options: fastRetries)

        server.stop()
        server = try HubTestServer(repos: ["other/model": Self.fixtureRepo()], sha256: Self.sha256)
        server.cutOnce(file: "model.safetensors", afterBytes: 123_456)
        var once = fastRetries
        once.maxRetries = 0
        XCTAssertThrowsError(try ModelHub.resolve("other/model", environment: environment(), options: once))
        // Not a model repository: skipped.
        try FileManager.default.createDirectory(at: cacheRoot.appendingPathComponent("datasets--x--y/snapshots/abc"),
                                                withIntermediateDirectories: true)

        let list = try ModelHub.cachedModels(environment: environment())
        XCTAssertEqual(list.map(\.id), ["other/model", "tiny/gpt2", "tiny/gpt2"])
        let partial = list[0]
        XCTAssertFalse(partial.isComplete)
        XCTAssertEqual(partial.missing, ["model.safetensors", "vocab.json + merges.txt or tokenizer.json"])
        XCTAssertEqual(partial.incompleteBytes, 123_456)
        XCTAssertEqual(partial.refs, [], "a ref is written only once the snapshot is complete")

        let sizes = try Self.fixtureFiles().mapValues { Int64($0.count) }
        let fetchedSize = Self.fetchedFiles.reduce(Int64(0)) { $0 + sizes[$1]! }
        let main = try XCTUnwrap(list.first { $0.id == "tiny/gpt2" && $0.commit == Self.mainCommit })
        XCTAssertTrue(main.isComplete)
        XCTAssertEqual(main.missing, [])
        XCTAssertEqual(main.refs, ["main"])
        XCTAssertEqual(main.sizeOnDisk, fetchedSize)
        XCTAssertEqual(main.incompleteBytes, 0)
        XCTAssertEqual(main.directory.lastPathComponent, Self.mainCommit)
        let v1 = try XCTUnwrap(list.first { $0.id == "tiny/gpt2" && $0.commit == Self.v1Commit })
        XCTAssertEqual(v1.refs, ["v1"])
        let v1Config = try XCTUnwrap(Self.fixtureRepo().commits[Self.v1Commit]?["config.json"])
        XCTAssertEqual(v1.sizeOnDisk, fetchedSize - sizes["config.json"]! + Int64(v1Config.count))
    }
}
