import Foundation
import LMTokenizer
import TestSupport
import XCTest

/// Bad files and bad ids give clear, typed errors naming the file, never a crash.
final class TokenizerErrorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try Fixtures.temporaryDirectory("tok")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ content: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(content.utf8).write(to: url)
        return url
    }

    private var realVocab: URL { Fixtures.tinyModel.appendingPathComponent("vocab.json") }
    private var realMerges: URL { Fixtures.tinyModel.appendingPathComponent("merges.txt") }

    private func assertCorrupt(_ body: @autoclosure () throws -> GPT2Tokenizer, path: URL, mentioning words: [String],
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case TokenizerError.corruptFile(let errorPath, let reason) = error else {
                return XCTFail("expected corruptFile, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(errorPath, path.path, file: file, line: line)
            let description = String(describing: error)
            XCTAssertTrue(description.contains(path.path), description, file: file, line: line)
            for word in words { XCTAssertTrue(reason.contains(word), "\(reason) lacks \(word)", file: file, line: line) }
        }
    }

    func testMissingFileIsNamed() throws {
        let missing = directory.appendingPathComponent("vocab.json")
        XCTAssertThrowsError(try GPT2Tokenizer(vocabURL: missing, mergesURL: realMerges)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missing.path))
            XCTAssertTrue(String(describing: error).contains(missing.path))
        }
        let missingJSON = directory.appendingPathComponent("tokenizer.json")
        XCTAssertThrowsError(try GPT2Tokenizer(tokenizerJSONURL: missingJSON)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missingJSON.path))
        }
    }

    func testEmptyDirectory() throws {
        XCTAssertThrowsError(try GPT2Tokenizer.load(directory: directory)) { error in
            XCTAssertEqual(error as? TokenizerError, .noTokenizerFiles(directory: directory.path))
        }
    }

    func testDirectoryWithVocabButNoMergesNamesTheMissingFile() throws {
        _ = try file("vocab.json", "{}")
        XCTAssertThrowsError(try GPT2Tokenizer.load(directory: directory)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: self.directory.appendingPathComponent("merges.txt").path))
        }
    }

    func testCorruptVocabJSON() throws {
        let notJSON = try file("vocab.json", "{\"a\": 1, ")
        assertCorrupt(try GPT2Tokenizer(vocabURL: notJSON, mergesURL: realMerges), path: notJSON, mentioning: ["JSON"])
        let array = try file("array.json", "[1, 2, 3]")
        assertCorrupt(try GPT2Tokenizer(vocabURL: array, mergesURL: realMerges), path: array, mentioning: ["object"])
        let badId = try file("badid.json", "{\"a\": \"one\"}")
        assertCorrupt(try GPT2Tokenizer(vocabURL: badId, mergesURL: realMerges), path: badId, mentioning: ["\"a\""])
        let noBytes = try file("nobytes.json", "{\"a\": 0, \"<|endoftext|>\": 1}")
        assertCorrupt(try GPT2Tokenizer(vocabURL: noBytes, mergesURL: realMerges), path: noBytes, mentioning: ["byte"])
    }

    func testMergeNamingUnknownTokens() throws {
        let merges = try file("merges.txt", "#version: 0.2\nĠ t\nqqxqq zzkzz\n")
        assertCorrupt(try GPT2Tokenizer(vocabURL: realVocab, mergesURL: merges), path: merges,
                      mentioning: ["line 3", "qqxqq zzkzz", "not in the vocabulary"])
        // Both parts are tokens, but "foobar" is not.
        let result = try file("result.txt", "#version: 0.2\nfoo bar\n")
        assertCorrupt(try GPT2Tokenizer(vocabURL: realVocab, mergesURL: result), path: result,
                      mentioning: ["line 2", "foobar", "not in the vocabulary"])
        let malformed = try file("malformed.txt", "#version: 0.2\nĠ t\nĠt h e\n")
        assertCorrupt(try GPT2Tokenizer(vocabURL: realVocab, mergesURL: malformed), path: malformed,
                      mentioning: ["line 3"])
    }

    func testCorruptTokenizerJSON() throws {
        let noModel = try file("tokenizer.json", "{\"added_tokens\": []}")
        assertCorrupt(try GPT2Tokenizer(tokenizerJSONURL: noModel), path: noModel, mentioning: ["model"])
        let wordPiece = try file("wordpiece.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}")
        assertCorrupt(try GPT2Tokenizer(tokenizerJSONURL: wordPiece), path: wordPiece, mentioning: ["WordPiece"])
        let badMerge = try file("badmerge.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [42]}}")
        assertCorrupt(try GPT2Tokenizer(tokenizerJSONURL: badMerge), path: badMerge, mentioning: ["model.merges[0]"])
    }

    func testDecodeRejectsIdsOutsideTheVocabulary() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        for id in [50257, -1, Int.max, Int.min] {
            XCTAssertThrowsError(try tokenizer.decode([15496, id])) { error in
                XCTAssertEqual(error as? TokenizerError, .unknownId(id))
                XCTAssertTrue(String(describing: error).contains(String(id)))
            }
            XCTAssertThrowsError(try tokenizer.decodeBytes([id]))
        }
    }
}
