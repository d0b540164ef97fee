import Foundation
import GGUF
import GPT2
import LMTokenizer
import TestSupport
import XCTest

/// The tokenizer built from a GGUF file's metadata against the one loaded from the HF files: the same
/// ids on every fixture line in all three settings, the same bytes for every id.
final class GGUFTokenizerTests: XCTestCase {
    override func tearDown() {
        GGUFTestFiles.removeAll()
        super.tearDown()
    }

    static func tokenizer(_ tables: GGUFTokenizerTables) throws -> GPT2Tokenizer {
        try GPT2Tokenizer(
            tokens: tables.tokens, merges: tables.merges, specialTokenIds: tables.specialTokenIds,
            userDefinedTokenIds: tables.userDefinedTokenIds, source: tables.source,
            tokensField: GGUFTokenizerTables.tokensField, mergesField: GGUFTokenizerTables.mergesField)
    }

    struct Case {
        var line: Int
        var text: String
        var ids: [Int]
        var idsPrefixSpace: [Int]
        var idsSplitSpecial: [Int]
    }

    static func cases() throws -> [Case] {
        let text = try String(contentsOf: Fixtures.tokenizerCases, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().map { index, line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return Case(line: index + 1, text: try XCTUnwrap(object["text"] as? String),
                        ids: try XCTUnwrap(object["ids"] as? [Int]),
                        idsPrefixSpace: try XCTUnwrap(object["ids_prefix_space"] as? [Int]),
                        idsSplitSpecial: try XCTUnwrap(object["ids_split_special"] as? [Int]))
        }
    }

    func testIdsMatchTheHFFilesOnEveryCase() throws {
        let tables = try GGUFTokenizerTables(gguf: GGUFFile.open(GGUFTestFiles.fixture("f32")))
        XCTAssertEqual(tables.specialTokenIds, [50256])
        XCTAssertEqual(tables.userDefinedTokenIds, [])
        XCTAssertEqual(tables.eosTokenId, 50256)
        let gguf = try Self.tokenizer(tables)
        let hf = try GPT2Tokenizer.load(directory: Fixtures.tinyModel)
        XCTAssertEqual(gguf.vocabularySize, hf.vocabularySize)
        XCTAssertEqual(gguf.endOfTextId, hf.endOfTextId)
        let cases = try Self.cases()
        XCTAssertEqual(cases.count, 150)
        for c in cases {
            let plain = gguf.encode(c.text)
            XCTAssertEqual(plain, hf.encode(c.text), "line \(c.line)")
            XCTAssertEqual(plain, c.ids, "line \(c.line)")
            XCTAssertEqual(gguf.encode(c.text, addPrefixSpace: true), c.idsPrefixSpace, "line \(c.line)")
            XCTAssertEqual(gguf.encode(c.text, splitSpecialTokens: true), c.idsSplitSpecial, "line \(c.line)")
            XCTAssertEqual(gguf.encodeWithOffsets(c.text), hf.encodeWithOffsets(c.text), "line \(c.line)")
            XCTAssertEqual(try gguf.decode(c.ids), try hf.decode(c.ids), "line \(c.line)")
        }
        for id in 0..<hf.vocabularySize where gguf.tokenBytes(id) != hf.tokenBytes(id) {
            XCTFail("token \(id): \(String(describing: gguf.tokenBytes(id))) vs \(String(describing: hf.tokenBytes(id)))")
            break
        }
    }

    func testEveryVariantCarriesTheSameTables() throws {
        let f32 = try GGUFTokenizerTables(gguf: GGUFFile.open(GGUFTestFiles.fixture("f32")))
        for variant in ["f16", "q8_0"] {
            let other = try GGUFTokenizerTables(gguf: GGUFFile.open(GGUFTestFiles.fixture(variant)))
            XCTAssertEqual(other.tokens, f32.tokens, variant)
            XCTAssertEqual(other.merges, f32.merges, variant)
            XCTAssertEqual(other.specialTokenIds, f32.specialTokenIds, variant)
        }
    }

    func testPadFillersAreNotAddedTokens() throws {
        // llama.cpp's converter names ids missing from the HF vocabulary "[PADn]" (USER_DEFINED); HF
        // never matches them in text, so neither may we. A real user-defined token still is one.
        let tokens = (0..<256).map { ByteLevelAlphabet.symbol($0) } + ["<|endoftext|>", "[PAD257]", "<tool>"]
        var writer = GGUFTestWriter()
        writer.metadata = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, (0..<256).map { _ in .int32(1) } + [.int32(3), .int32(4), .int32(4)])),
            ("tokenizer.ggml.merges", .array(.string, [])),
        ]
        let tables = try GGUFTokenizerTables(gguf: GGUFFile.open(try writer.write()))
        XCTAssertEqual(tables.specialTokenIds, [256])
        XCTAssertEqual(tables.userDefinedTokenIds, [258])
        let tokenizer = try Self.tokenizer(tables)
        XCTAssertEqual(tokenizer.encode("[PAD257]<tool>"), Array("[PAD257]".utf8).map { Int($0) } + [258])
    }

    func testBadTablesNameTheField() throws {
        let tables = try GGUFTokenizerTables(gguf: GGUFFile.open(GGUFTestFiles.fixture("f32")))
        var merges = tables.merges
        merges[7] = "Ġ zzzzzzzz"
        XCTAssertThrowsError(try GPT2Tokenizer(tokens: tables.tokens, merges: merges, source: "x.gguf",
                                               mergesField: GGUFTokenizerTables.mergesField)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("x.gguf") && message.contains("tokenizer.ggml.merges[7]"), message)
        }
        var tokens = tables.tokens
        tokens[5] = tokens[6]
        XCTAssertThrowsError(try GPT2Tokenizer(tokens: tokens, merges: [], source: "x.gguf",
                                               tokensField: GGUFTokenizerTables.tokensField)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.ggml.tokens[5] and tokenizer.ggml.tokens[6]"), "\(error)")
        }
    }
}

/// GPT-2's byte-to-unicode table, written out independently for building toy vocabularies: printable
/// Latin-1 bytes stand for themselves, the others map to U+0100 upwards in byte order.
enum ByteLevelAlphabet {
    static func symbol(_ byte: Int) -> String {
        let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
        if printable { return String(UnicodeScalar(UInt8(byte))) }
        let rank = (0..<byte).filter { !((33...126).contains($0) || (161...172).contains($0) || (174...255).contains($0)) }.count
        return String(UnicodeScalar(UInt32(256 + rank))!)
    }
}
