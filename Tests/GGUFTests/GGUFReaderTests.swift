import Foundation
import GGUF
import SafeTensors
import TestSupport
import XCTest

/// The reader against files written by the PyPI `gguf` package (the committed fixtures) and by the
/// test writer (every metadata type, other versions and alignments, known stored values).
final class GGUFReaderTests: XCTestCase {
    override func tearDown() {
        GGUFTestFiles.removeAll()
        super.tearDown()
    }

    /// The fixture's safetensors, read by TestSupport's independent float32 reader.
    static let reference: [String: ([Int], [Float])] = try! Expected.readSafetensors(
        Fixtures.tinyModel.appendingPathComponent("model.safetensors"))

    func testFixtureHeaderMetadataAndTensorInfos() throws {
        let file = try GGUFFile.open(GGUFTestFiles.fixture("f32"))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.dataStart % 32, 0)
        let meta = file.metadata
        XCTAssertEqual(meta["general.architecture"], .string("gpt2"))
        XCTAssertEqual(meta["gpt2.block_count"], .uint32(2))
        XCTAssertEqual(meta["gpt2.context_length"], .uint32(128))
        XCTAssertEqual(meta["gpt2.embedding_length"], .uint32(32))
        XCTAssertEqual(meta["gpt2.feed_forward_length"], .uint32(128))
        XCTAssertEqual(meta["gpt2.attention.head_count"], .uint32(4))
        XCTAssertEqual(meta["gpt2.attention.layer_norm_epsilon"], .float32(1e-5))
        XCTAssertEqual(Array(meta.keys.prefix(2)), ["general.architecture", "general.name"])
        let tokens = try XCTUnwrap(meta.stringArray("tokenizer.ggml.tokens"))
        XCTAssertEqual(tokens.count, 50257)
        XCTAssertEqual(tokens[0], "!")
        XCTAssertEqual(tokens[50256], "<|endoftext|>")
        let merges = try XCTUnwrap(meta.stringArray("tokenizer.ggml.merges"))
        XCTAssertEqual(merges.count, 50000)
        XCTAssertEqual(merges[0], "Ġ t")

        XCTAssertEqual(file.tensors.count, 4 + 2 * 12)
        let embedding = try XCTUnwrap(file.tensor("token_embd.weight"))
        XCTAssertEqual(embedding.dimensions, [32, 50257], "ne[0] is the row length")
        XCTAssertEqual(embedding.shape, [50257, 32])
        XCTAssertEqual(embedding.type, .f32)
        XCTAssertEqual(embedding.byteCount, 50257 * 32 * 4)
        let qkv = try XCTUnwrap(file.tensor("blk.0.attn_qkv.weight"))
        XCTAssertEqual(qkv.dimensions, [32, 96], "llama.cpp stores Linear [out, in]: ne = [in, out]")
        XCTAssertNil(file.tensor("output.weight"))
    }

    func testF32TensorsAreZeroCopyAndEqualTheSafetensors() throws {
        let file = try GGUFFile.open(GGUFTestFiles.fixture("f32"))
        let wte = try file.floats("token_embd.weight")
        XCTAssertTrue(wte.isZeroCopy)
        XCTAssertEqual(wte.shape, [50257, 32])
        XCTAssertEqual(wte.toArray(), Self.reference["transformer.wte.weight"]!.1)

        // The converter transposed HF's Conv1D [in, out] = [32, 96] to [out, in] = [96, 32].
        let qkv = try file.floats("blk.1.attn_qkv.weight").toArray()
        let hf = Self.reference["transformer.h.1.attn.c_attn.weight"]!.1
        for i in 0..<32 {
            for o in 0..<96 { XCTAssertEqual(qkv[o * 32 + i], hf[i * 96 + o]) }
        }
    }

    func testReleasedPagesReadBackUnchanged() throws {
        let file = try GGUFFile.open(GGUFTestFiles.fixture("f32"))
        let wte = try file.floats("token_embd.weight")
        let before = wte.toArray()
        file.releasePages(of: "token_embd.weight")
        XCTAssertEqual(wte.toArray(), before, "a released page refaults from the file")
        file.releasePages(of: "no such tensor")
    }

    func testQuantizedFixturesAreCloseToTheSafetensors() throws {
        let hf = Self.reference["transformer.wte.weight"]!.1
        for (variant, type, bound) in [("f16", GGUFTensorType.f16, Float(1e-3)), ("q8_0", .q8_0, 0.05)] {
            let file = try GGUFFile.open(GGUFTestFiles.fixture(variant))
            let wte = try file.floats("token_embd.weight")
            XCTAssertEqual(wte.storedType, type)
            XCTAssertFalse(wte.isZeroCopy)
            let diff = zip(wte.buffer, hf).map { abs($0 - $1) }.max() ?? .infinity
            let scale = hf.map(abs).max() ?? 0
            print("\(variant) token_embd: max |diff| \(diff) (max |w| \(scale))")
            XCTAssertLessThanOrEqual(diff, bound * scale, variant)
            XCTAssertGreaterThan(diff, 0, "\(variant) is lossy: a zero difference means the data was not the stored type")
            // Norms, biases and the position table stay float32 in every variant, as llama.cpp writes them.
            XCTAssertEqual(file.tensor("position_embd.weight")?.type, .f32)
            XCTAssertEqual(file.tensor("blk.0.attn_norm.bias")?.type, .f32)
            XCTAssertEqual(file.tensor("blk.0.ffn_down.weight")?.type, type)
        }
    }

    /// HF's name and whether llama.cpp transposed it, for each GGUF tensor of the tiny model.
    static func hfName(_ gguf: String) -> (String, Bool) {
        let fixed = ["token_embd.weight": "wte.weight", "position_embd.weight": "wpe.weight",
                     "output_norm.weight": "ln_f.weight", "output_norm.bias": "ln_f.bias"]
        if let name = fixed[gguf] { return ("transformer." + name, false) }
        let parts = gguf.split(separator: ".")
        let module = ["attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj",
                      "ffn_norm": "ln_2", "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"][String(parts[2])]!
        return ("transformer.h.\(parts[1]).\(module).\(parts[3])", parts[3] == "weight" && !module.hasPrefix("ln"))
    }

    /// What ggml's reference Q8_0 quantizer (and the gguf package's, bit for bit) makes of one block,
    /// dequantized: d = max|x| / 127 stored as binary16, q = x / d rounded half away from zero.
    static func q8RoundTrip(_ block: ArraySlice<Float>) -> [Float] {
        let d = (block.map(abs).max() ?? 0) / 127
        let inverse: Float = d == 0 ? 0 : 1 / d
        let stored = FloatConversion.float(fromHalfBits: FloatConversion.halfBits(from: d))
        return block.map { stored * ($0 * inverse).rounded(.toNearestOrAwayFromZero) }
    }

    func testStoredValuesAreExactlyTheRoundedSafetensors() throws {
        for variant in ["f32", "f16", "q8_0"] {
            let file = try GGUFFile.open(GGUFTestFiles.fixture(variant))
            var counts: [String: Int] = [:]
            for info in file.tensors {
                let (name, transposed) = Self.hfName(info.name)
                let (shape, values) = try XCTUnwrap(Self.reference[name], name)
                // The file's row-major layout: HF's, or its transpose for the Conv1D weights.
                var source = values
                if transposed {
                    source = (0..<values.count).map { values[($0 % shape[0]) * shape[1] + $0 / shape[0]] }
                }
                let expected: [Float]
                switch info.type {
                case .f32: expected = source
                case .f16: expected = source.map { FloatConversion.float(fromHalfBits: FloatConversion.halfBits(from: $0)) }
                case .q8_0: expected = stride(from: 0, to: source.count, by: 32).flatMap { Self.q8RoundTrip(source[$0..<($0 + 32)]) }
                default: XCTFail("\(info.name): unexpected type \(info.type)"); continue
                }
                XCTAssertEqual(try file.floats(info.name).toArray(), expected, "\(variant) \(info.name)")
                counts[info.type.name, default: 0] += 1
            }
            print("\(variant): tensors by stored type \(counts.sorted { $0.key < $1.key })")
        }
    }

    func testEveryMetadataTypeRoundTrips() throws {
        let values: [(String, GGUFValue)] = [
            ("u8", .uint8(250)), ("i8", .int8(-7)), ("u16", .uint16(65000)), ("i16", .int16(-30000)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(1.5)),
            ("bool", .bool(true)), ("string", .string("héllo ∑")), ("u64", .uint64(UInt64.max)),
            ("i64", .int64(Int64.min)), ("f64", .float64(-0.25)),
            ("strings", .array(.string, [.string("a"), .string(""), .string("Ġthe")])),
            ("ints", .array(.int32, [.int32(1), .int32(-2)])),
            ("empty", .array(.uint8, [])),
            ("nested", .array(.array, [.array(.bool, [.bool(false)]), .array(.float64, [.float64(2)])])),
        ]
        for version: UInt32 in [2, 3] {
            var writer = GGUFTestWriter()
            writer.version = version
            writer.metadata = values
            let file = try GGUFFile.open(try writer.write())
            XCTAssertEqual(file.version, version)
            XCTAssertEqual(file.metadata.keys, values.map(\.0))
            for (key, value) in values { XCTAssertEqual(file.metadata[key], value, key) }
            XCTAssertThrowsError(try file.metadata.int("u64"), "UInt64.max does not fit an Int")
            XCTAssertEqual(try file.metadata.int("u8", in: 0...255), 250)
            XCTAssertThrowsError(try file.metadata.int("u8", in: 0...100))
            XCTAssertEqual(try file.metadata.int("i32"), -2_000_000_000)
            XCTAssertEqual(try file.metadata.double("f32"), 1.5)
            XCTAssertEqual(try file.metadata.stringArray("strings"), ["a", "", "Ġthe"])
            XCTAssertEqual(try file.metadata.intArray("ints"), [1, -2])
            XCTAssertThrowsError(try file.metadata.string("u8")) { error in
                XCTAssertEqual(error as? GGUFError, .malformedMetadata(file: file.path, key: "u8", reason: "it is UINT8, expected STRING"))
            }
        }
    }

    func testStoredTypesConvertExactly() throws {
        // Binary16: 1, -2, 0.5, 65504 (largest), 2⁻²⁴ (smallest subnormal), -0, +∞.
        let halfBits: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000, 0x7C00]
        let halves: [Float] = [1, -2, 0.5, 65504, 0x1p-24, -0.0, .infinity]
        // bfloat16: 1, -3, 2⁻¹²⁶ (smallest normal).
        let bfloatBits: [UInt16] = [0x3F80, 0xC040, 0x0080]
        let bfloats: [Float] = [1, -3, 0x1p-126]
        // Two Q8_0 blocks: scale 0.5 with q = -128 ... -97, scale -0.25 with q = 0 ... 31.
        let q1 = (0..<32).map { Int8(-128 + $0) }, q2 = (0..<32).map { Int8($0) }
        let q8 = q1.map { 0.5 * Float($0) } + q2.map { -0.25 * Float($0) }
        let f32: [Float] = [3.25, -1e-30, .greatestFiniteMagnitude]

        var writer = GGUFTestWriter()
        writer.tensors = [
            .init(name: "half", dimensions: [7], type: .f16, bytes: GGUFTestWriter.u16Bytes(halfBits)),
            .init(name: "bf", dimensions: [3], type: .bf16, bytes: GGUFTestWriter.u16Bytes(bfloatBits)),
            .init(name: "q8", dimensions: [32, 2], type: .q8_0,
                  bytes: GGUFTestWriter.q8Bytes([(0x3800, q1), (0xB400, q2)])),
            .init(name: "f32", dimensions: [3, 1], type: .f32, bytes: GGUFTestWriter.f32Bytes(f32)),
        ]
        let file = try GGUFFile.open(try writer.write())
        XCTAssertEqual(try file.floats("half").toArray().map(\.bitPattern), halves.map(\.bitPattern))
        XCTAssertEqual(try file.floats("bf").toArray(), bfloats)
        let q = try file.floats("q8")
        XCTAssertEqual(q.toArray(), q8)
        XCTAssertEqual(q.shape, [2, 32])
        XCTAssertEqual(file.tensor("q8")?.byteCount, 68)
        XCTAssertEqual(try file.floats("f32").toArray(), f32)
        XCTAssertTrue(try file.floats("f32").isZeroCopy)
    }

    func testAlignmentFromMetadata() throws {
        for alignment in [1, 64] {
            var writer = GGUFTestWriter()
            writer.alignment = alignment
            writer.metadata = [("general.alignment", .uint32(UInt32(alignment)))]
            // A one-byte tensor first, so that with alignment 1 the floats after it are misaligned.
            writer.tensors = [
                .init(name: "byte", dimensions: [1], type: GGUFTensorType(rawValue: 24), bytes: [7]),
                .init(name: "x", dimensions: [4], type: .f32, bytes: GGUFTestWriter.f32Bytes([1, 2, 3, 4])),
            ]
            let file = try GGUFFile.open(try writer.write())
            XCTAssertEqual(file.alignment, alignment)
            XCTAssertEqual(file.dataStart % alignment, 0)
            let info = try XCTUnwrap(file.tensor("x"))
            XCTAssertEqual(info.relativeOffset, UInt64(alignment == 1 ? 1 : 64))
            let x = try file.floats("x")
            XCTAssertEqual(x.toArray(), [1, 2, 3, 4])
            // In place only when 4-byte aligned; the mapping itself is page-aligned.
            XCTAssertEqual(x.isZeroCopy, info.byteRange.lowerBound % 4 == 0, "alignment \(alignment)")
            XCTAssertThrowsError(try file.floats("byte")) { error in
                XCTAssertEqual(error as? GGUFError, .unsupportedTensorType(file: file.path, tensor: "byte", type: "I8"))
            }
        }
    }

    func testVocabularyFromFixture() throws {
        let file = try GGUFFile.open(GGUFTestFiles.fixture("q8_0"))
        let vocabulary = try GGUFVocabulary(metadata: file.metadata)
        XCTAssertEqual(vocabulary.model, "gpt2")
        XCTAssertEqual(vocabulary.preTokenizer, "gpt-2")
        XCTAssertEqual(vocabulary.tokens.count, 50257)
        XCTAssertEqual(vocabulary.ids(ofType: .control), [50256])
        XCTAssertEqual(vocabulary.ids(ofType: .normal).count, 50256)
        XCTAssertEqual(vocabulary.eosTokenId, 50256)
        XCTAssertEqual(vocabulary.bosTokenId, 50256)
        XCTAssertEqual(vocabulary.merges.count, 50000)
    }
}
