import Foundation
import ModelHub
import TestSupport
import XCTest

/// What a user may type: folders, ids, revisions, and what is refused.
final class ModelIDTests: XCTestCase {
    func testParsesIdsAndRevisions() throws {
        let plain = try ModelID(parsing: "distilgpt2")
        XCTAssertEqual(plain.repo, "distilgpt2")
        XCTAssertNil(plain.revision)
        XCTAssertEqual(plain.effectiveRevision, "main")
        XCTAssertEqual(plain.cacheFolderName, "models--distilgpt2")

        let org = try ModelID(parsing: "openai-community/gpt2-xl")
        XCTAssertEqual(org.cacheFolderName, "models--openai-community--gpt2-xl")
        XCTAssertEqual(org.description, "openai-community/gpt2-xl")

        let tagged = try ModelID(parsing: "openai-community/gpt2@v1.0")
        XCTAssertEqual(tagged.repo, "openai-community/gpt2")
        XCTAssertEqual(tagged.revision, "v1.0")
        XCTAssertEqual(tagged.description, "openai-community/gpt2@v1.0")
        XCTAssertEqual(try ModelID(parsing: "gpt2@refs/pr/12").revision, "refs/pr/12")
        XCTAssertEqual(try ModelID(parsing: "EleutherAI/gpt-neo_1.3B").repo, "EleutherAI/gpt-neo_1.3B")
    }

    func testRefusesMalformedIds() {
        let bad = ["", "a/b/c", "-gpt2", "gpt2-", "gpt..2", "org--x/y", "gpt 2", "gpt2@", "gpt2@../../etc", "gpt2@/abs",
                   "gpt2@a//b", "/gpt2", "repo.git", String(repeating: "a", count: 97), "gpt2@a b", "é/x"]
        for text in bad {
            XCTAssertThrowsError(try ModelID(parsing: text), "`\(text)`") { error in
                guard case let ModelHubError.invalidSpec(spec, reason)? = error as? ModelHubError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(spec, text)
                XCTAssertFalse(reason.isEmpty)
            }
        }
    }

    /// An existing folder is itself (even one whose name looks like an id); path-shaped text that is
    /// not a folder is `folderNotFound`; a file is refused; nothing here touches a network.
    func testFoldersResolveToThemselves() throws {
        let scratch = try Fixtures.temporaryDirectory("hubid")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let offline = ["HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": scratch.appendingPathComponent("cache").path,
                       "HF_ENDPOINT": "http://127.0.0.1:9", "HOME": scratch.path]

        let fixture = try ModelHub.resolve(Fixtures.tinyModel.path, environment: offline)
        XCTAssertEqual(fixture.source, .folder)
        XCTAssertEqual(fixture.directory.path, Fixtures.tinyModel.standardizedFileURL.path)
        XCTAssertNil(fixture.id)
        XCTAssertNil(fixture.commit)

        let home = try ModelHub.resolve("~", environment: offline)
        XCTAssertEqual(home.directory.path, scratch.standardizedFileURL.path)

        for missing in ["/no/such/folder", "./nope", "~/nope", "a/b/c", "models/"] {
            XCTAssertThrowsError(try ModelHub.resolve(missing, environment: offline), missing) { error in
                guard case ModelHubError.folderNotFound? = error as? ModelHubError else { return XCTFail("\(missing): \(error)") }
            }
        }
        XCTAssertThrowsError(try ModelHub.resolve(Fixtures.tinyModel.appendingPathComponent("config.json").path, environment: offline)) {
            guard case ModelHubError.invalidSpec? = $0 as? ModelHubError else { return XCTFail("\($0)") }
        }
    }

    /// Every error reads as one sentence naming what it is about.
    func testErrorSentences() {
        let cases: [(ModelHubError, String)] = [
            (.repoNotFound(id: "a/b", endpoint: "https://huggingface.co"), "the model `a/b` was not found on https://huggingface.co"),
            (.revisionNotFound(id: "a/b", revision: "v9"), "has no revision `v9`"),
            (.fileNotFound(id: "a/b", revision: "main", file: "config.json"), "at revision `main` has no file config.json"),
            (.network(url: "https://x/y", reason: "timed out"), "could not download https://x/y: timed out"),
            (.checksumMismatch(file: "model.safetensors", expected: "aa", actual: "bb"), "model.safetensors is corrupt"),
            (.sizeMismatch(file: "vocab.json", expected: 10, actual: 9), "vocab.json is 9 bytes but the hub says 10"),
            (.folderNotFound("/x"), "the model folder /x does not exist"),
        ]
        for (error, fragment) in cases {
            XCTAssertTrue(error.description.contains(fragment), error.description)
            XCTAssertFalse(error.description.contains("\n"))
        }
    }
}
