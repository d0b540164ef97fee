import Foundation
import GGUF
import GPT2
import TestSupport
import XCTest

/// One test per way a GGUF file can be bad: the error case, and a message naming the file and the key
/// or tensor. Damaged files are made from the committed fixture at run time.
final class GGUFErrorTests: XCTestCase {
    override func tearDown() {
        GGUFTestFiles.removeAll()
        super.tearDown()
    }

    /// A copy of the F32 fixture's bytes, changed by `edit`, written to a temporary file.
    private func damagedCopy(_ edit: (inout Data) -> Void) throws -> URL {
        var data = try Data(contentsOf: GGUFTestFiles.fixture("f32"))
        edit(&data)
        let url = try GGUFTestFiles.temporaryDirectory().appendingPathComponent("damaged.gguf")
        try data.write(to: url)
        return url
    }

    /// The F32 fixture rewritten after `edit` changed its metadata or tensors.
    private func rewritten(_ edit: (inout GGUFTestWriter) throws -> Void) throws -> URL {
        var writer = try GGUFTestFiles.rewriter(GGUFFile.open(GGUFTestFiles.fixture("f32")))
        try edit(&writer)
        return try writer.write()
    }

    /// Asserts that `body` throws an error of type `E` matching `match`, whose message names `names`.
    private func expect<E: Error & CustomStringConvertible>(
        _ type: E.Type, _ body: @autoclosure () throws -> Any, names: [String],
        file: StaticString = #filePath, line: UInt = #line, _ match: (E) -> Bool
    ) {
        do {
            _ = try body()
            XCTFail("no error thrown", file: file, line: line)
        } catch let error as E {
            XCTAssertTrue(match(error), "unexpected case: \(error)", file: file, line: line)
            for name in names {
                XCTAssertTrue(error.description.contains(name), "\"\(error)\" does not name \(name)", file: file, line: line)
            }
            print("error message: \(error)")
        } catch {
            XCTFail("wrong error type: \(error)", file: file, line: line)
        }
    }

    // MARK: - The file itself

    func testBadMagic() throws {
        let url = try damagedCopy { $0.replaceSubrange(0..<4, with: Array("GGML".utf8)) }
        expect(GGUFError.self, try GGUFFile.open(url), names: [url.path, "not a GGUF file"]) {
            if case .badMagic(_, [0x47, 0x47, 0x4D, 0x4C]) = $0 { return true }
            return false
        }
        let empty = try damagedCopy { $0 = Data() }
        expect(GGUFError.self, try GGUFFile.open(empty), names: [empty.path]) {
            if case .badMagic(_, []) = $0 { return true }
            return false
        }
    }

    func testUnsupportedVersion() throws {
        let v1 = try damagedCopy { $0[4] = 1 }
        expect(GGUFError.self, try GGUFFile.open(v1), names: [v1.path, "version 1"]) {
            if case .unsupportedVersion(_, 1, _) = $0 { return true }
            return false
        }
        // Version 3 written big-endian reads as 0x03000000 here.
        let bigEndian = try damagedCopy { $0.replaceSubrange(4..<8, with: [0, 0, 0, 3]) }
        expect(GGUFError.self, try GGUFFile.open(bigEndian), names: [bigEndian.path, "big-endian"]) {
            if case .unsupportedVersion(_, 0x0300_0000, _) = $0 { return true }
            return false
        }
    }

    func testTruncatedFile() throws {
        let size = try Data(contentsOf: GGUFTestFiles.fixture("f32")).count
        // Cut inside the tensor data: the error names the first tensor cut off.
        let data = try damagedCopy { $0 = $0.prefix(size - 1000) }
        expect(GGUFError.self, try GGUFFile.open(data), names: [data.path, "truncated", "the data of tensor"]) {
            if case let .truncated(_, _, needed, fileSize) = $0 { return fileSize == size - 1000 && needed > fileSize }
            return false
        }
        // Cut inside the metadata: the error names the key being read.
        let meta = try damagedCopy { $0 = $0.prefix(100_000) }
        expect(GGUFError.self, try GGUFFile.open(meta), names: [meta.path, "tokenizer.ggml.tokens"]) {
            if case .truncated(_, _, _, 100_000) = $0 { return true }
            return false
        }
        // A count no file could hold is truncation too, not a huge allocation.
        let counts = try damagedCopy { $0.replaceSubrange(8..<16, with: [0, 0, 0, 0, 0, 1, 0, 0]) }
        expect(GGUFError.self, try GGUFFile.open(counts), names: [counts.path, "tensor infos"]) {
            if case .truncated = $0 { return true }
            return false
        }
    }

    func testOffsetOutOfRange() throws {
        let misaligned = try rewritten { $0.tensors[3].offsetOverride = 4 }
        let name = try GGUFFile.open(GGUFTestFiles.fixture("f32")).tensors[3].name
        expect(GGUFError.self, try GGUFFile.open(misaligned), names: [misaligned.path, name, "alignment 32"]) {
            if case .offsetOutOfRange(_, name, 4, _) = $0 { return true }
            return false
        }
        let overlapping = try rewritten { $0.tensors[1].offsetOverride = 0 }
        expect(GGUFError.self, try GGUFFile.open(overlapping), names: [overlapping.path, "overlaps"]) {
            if case .offsetOutOfRange = $0 { return true }
            return false
        }
    }

    func testMalformedTensorInfo() throws {
        var writer = GGUFTestWriter()
        writer.tensors = [.init(name: "huge", dimensions: [1 << 40, 1 << 40], type: .f32, bytes: [])]
        let overflow = try writer.write()
        expect(GGUFError.self, try GGUFFile.open(overflow), names: [overflow.path, "huge", "overflow"]) {
            if case .malformedTensorInfo(_, "huge", _) = $0 { return true }
            return false
        }
        writer.tensors = [.init(name: "five", dimensions: [1, 1, 1, 1, 1], type: .f32, bytes: [0, 0, 0, 0])]
        let dims = try writer.write()
        expect(GGUFError.self, try GGUFFile.open(dims), names: ["five", "5 dimensions"]) {
            if case .malformedTensorInfo(_, "five", _) = $0 { return true }
            return false
        }
        writer.tensors = [.init(name: "q", dimensions: [16], type: .q8_0, bytes: [UInt8](repeating: 0, count: 34))]
        let block = try writer.write()
        expect(GGUFError.self, try GGUFFile.open(block), names: ["\"q\"", "block size 32"]) {
            if case .malformedTensorInfo(_, "q", _) = $0 { return true }
            return false
        }
        writer.tensors = [.init(name: "far", dimensions: [1], type: .f32, bytes: [0, 0, 0, 0], offsetOverride: UInt64.max - 31)]
        let far = try writer.write()
        expect(GGUFError.self, try GGUFFile.open(far), names: ["far", "beyond any possible file"]) {
            if case .offsetOutOfRange(_, "far", _, _) = $0 { return true }
            return false
        }
    }

    func testRandomDamageNeverCrashes() throws {
        // A small valid file with every kind of section, damaged at random: opening and reading it must
        // either work or throw GGUFError. A crash fails the whole run.
        var writer = GGUFTestWriter()
        writer.metadata = [("general.architecture", .string("gpt2")), ("n", .uint32(3)),
                           ("list", .array(.string, [.string("a"), .string("bc")])), ("nested", .array(.array, [.array(.int8, [.int8(1)])]))]
        writer.tensors = [.init(name: "a", dimensions: [32, 2], type: .q8_0, bytes: [UInt8](repeating: 1, count: 68)),
                          .init(name: "b", dimensions: [3], type: .f16, bytes: [1, 2, 3, 4, 5, 6])]
        let original = writer.data()
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let url = try GGUFTestFiles.temporaryDirectory().appendingPathComponent("fuzz.gguf")
        var opened = 0, refused = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + next() % 3) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
            if next() % 4 == 0 { bytes = bytes.prefix(next() % bytes.count) }
            try bytes.write(to: url)
            do {
                let file = try GGUFFile.open(url)
                for name in file.tensorNames { _ = try? file.floats(name) }
                opened += 1
            } catch is GGUFError {
                refused += 1
            }
        }
        print("random damage: \(opened) opened, \(refused) refused with GGUFError")
        XCTAssertEqual(opened + refused, 300)
        XCTAssertGreaterThan(refused, 0)
    }

    func testUnsupportedTensorType() throws {
        // Q4_0: 18 bytes per block of 32 values, so one block per 32-wide row.
        let url = try rewritten { writer in
            let i = writer.tensors.firstIndex { $0.name == "token_embd.weight" }!
            writer.tensors[i].type = GGUFTensorType(rawValue: 2)
            writer.tensors[i].bytes = [UInt8](repeating: 0, count: 50257 * 18)
        }
        let file = try GGUFFile.open(url)
        XCTAssertEqual(file.tensor("token_embd.weight")?.type.name, "Q4_0")
        expect(GGUFError.self, try GPT2Weights.load(gguf: file), names: [url.path, "token_embd.weight", "Q4_0"]) {
            $0 == .unsupportedTensorType(file: url.path, tensor: "token_embd.weight", type: "Q4_0")
        }
        expect(GGUFError.self, try file.floats("token_embd.weight"), names: ["Q4_0"]) {
            if case .unsupportedTensorType = $0 { return true }
            return false
        }
        // A number ggml does not define: the file cannot even be laid out.
        let unknown = try rewritten { $0.tensors[0].type = GGUFTensorType(rawValue: 99) }
        expect(GGUFError.self, try GGUFFile.open(unknown), names: [unknown.path, "type 99"]) {
            if case .unsupportedTensorType = $0 { return true }
            return false
        }
    }

    func testMalformedMetadata() throws {
        var writer = GGUFTestWriter()
        writer.metadata = [("general.alignment", .uint32(48))]
        let url = try writer.write()
        expect(GGUFError.self, try GGUFFile.open(url), names: [url.path, "general.alignment", "power of two"]) {
            if case .malformedMetadata(_, "general.alignment", _) = $0 { return true }
            return false
        }
        // A BOOL must be 0 or 1; a string must be UTF-8. Both are patched into otherwise valid files.
        writer.metadata = [("flag", .bool(true)), ("text", .string("QQQQ"))]
        var bytes = writer.data()
        let flag = bytes.firstRange(of: Data("flag".utf8))!.upperBound + 4
        bytes[flag] = 2
        let bad = try GGUFTestFiles.temporaryDirectory().appendingPathComponent("bool.gguf")
        try bytes.write(to: bad)
        expect(GGUFError.self, try GGUFFile.open(bad), names: [bad.path, "flag", "BOOL"]) {
            if case .malformedMetadata(_, "flag", _) = $0 { return true }
            return false
        }
        bytes[flag] = 1
        bytes.replaceSubrange(bytes.firstRange(of: Data("QQQQ".utf8))!, with: [0x51, 0xFF, 0xFE, 0x51])
        try bytes.write(to: bad)
        expect(GGUFError.self, try GGUFFile.open(bad), names: ["text", "UTF-8"]) {
            if case .malformedMetadata(_, "text", _) = $0 { return true }
            return false
        }
    }

    // MARK: - What does not fit GPT-2

    func testMissingTensor() throws {
        for name in ["blk.1.ffn_norm.bias", "token_embd.weight"] {
            let url = try rewritten { $0.tensors.removeAll { $0.name == name } }
            expect(GPT2LoadError.self, try GPT2Weights.load(gguf: url), names: [url.path, name]) {
                if case .missingTensor(url.path, name) = $0 { return true }
                return false
            }
        }
    }

    func testWrongShape() throws {
        let url = try rewritten { writer in
            let i = writer.tensors.firstIndex { $0.name == "blk.0.attn_qkv.weight" }!
            writer.tensors[i].dimensions = [32, 95]
            writer.tensors[i].bytes = Array(writer.tensors[i].bytes.prefix(32 * 95 * 4))
        }
        expect(GPT2LoadError.self, try GPT2Weights.load(gguf: url), names: [url.path, "blk.0.attn_qkv.weight", "[95, 32]", "[96, 32]"]) {
            $0.description == GPT2LoadError.shapeMismatch(file: url.path, key: "blk.0.attn_qkv.weight", expected: [96, 32], actual: [95, 32]).description
        }
        // Hugging Face's untransposed Conv1D layout gets a message that says so.
        let conv = try rewritten { writer in
            let i = writer.tensors.firstIndex { $0.name == "blk.1.ffn_up.weight" }!
            writer.tensors[i].dimensions = [128, 32]
        }
        expect(GPT2LoadError.self, try GPT2Weights.load(gguf: conv), names: [conv.path, "blk.1.ffn_up.weight", "Conv1D"]) {
            if case .unexpectedTensor = $0 { return true }
            return false
        }
    }

    func testMetadataThatDoesNotFitGPT2() throws {
        let missing = try rewritten { $0.metadata.removeAll { $0.0 == "gpt2.block_count" } }
        expect(GGUFError.self, try GPT2Weights.load(gguf: missing), names: [missing.path, "gpt2.block_count"]) {
            $0 == .missingMetadata(file: missing.path, key: "gpt2.block_count")
        }
        let llama = try rewritten { writer in
            writer.metadata = writer.metadata.map { $0.0 == "general.architecture" ? ($0.0, .string("llama")) : $0 }
        }
        expect(GPT2LoadError.self, try GPT2Weights.load(gguf: llama), names: [llama.path, "general.architecture", "llama"]) {
            if case .unsupportedConfig(_, "general.architecture", _, _) = $0 { return true }
            return false
        }
        let fewer = try rewritten { writer in
            writer.metadata = writer.metadata.map { $0.0 == "gpt2.block_count" ? ($0.0, .uint32(1)) : $0 }
        }
        expect(GPT2LoadError.self, try GPT2Weights.load(gguf: fewer), names: [fewer.path, "blk.1."]) {
            if case .unexpectedTensor = $0 { return true }
            return false
        }
        let wrongType = try rewritten { writer in
            writer.metadata = writer.metadata.map { $0.0 == "gpt2.embedding_length" ? ($0.0, .string("32")) : $0 }
        }
        expect(GGUFError.self, try GPT2Weights.load(gguf: wrongType), names: ["gpt2.embedding_length", "STRING"]) {
            if case .malformedMetadata(_, "gpt2.embedding_length", _) = $0 { return true }
            return false
        }
        let otherTokenizer = try rewritten { writer in
            writer.metadata = writer.metadata.map { $0.0 == "tokenizer.ggml.pre" ? ($0.0, .string("llama-bpe")) : $0 }
        }
        expect(GPT2LoadError.self, try GGUFTokenizerTables(gguf: GGUFFile.open(otherTokenizer)), names: ["tokenizer.ggml.pre", "llama-bpe"]) {
            if case .unsupportedConfig(_, "tokenizer.ggml.pre", _, _) = $0 { return true }
            return false
        }
    }
}
