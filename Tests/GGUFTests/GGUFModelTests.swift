import Foundation
import GGUF
import GPT2
import LMEngine
import LMTokenizer
import SafeTensors
import TestSupport
import XCTest

/// The tiny model from each committed GGUF variant against the same model from its safetensors: the
/// config, every weight, and the engine's logits on the reference prompts.
///
/// Tolerances, max |difference| of the engine's logits from the safetensors engine's over the 10
/// reference prompts (logits span about ±23; measured values are printed, the bounds sit a little above):
///   F32   0      measured 0 (the same float32 weights; the transposes are exact)
///   F16   0.22   measured 0.196 (2-D weights rounded to 11 significant bits)
///   Q8_0  2.0    measured 1.855 (blocks of 32 rounded to 8 bits around their largest value)
/// The tiny model's weights are drawn with std 0.8, so its attention is nearly one-hot and small weight
/// changes move logits a lot: a float64 NumPy forward pass over the gguf package's own dequantization of
/// these files differs from HF by the same 0.196 and 1.855, so the figures are the model's sensitivity,
/// not this reader's error. `testF16EngineEqualsSafetensorsRoundedToF16` pins F16 down exactly, and
/// GGUFReaderTests checks every stored value against ggml's rounding bit for bit.
final class GGUFModelTests: XCTestCase {
    static let logitBounds: [String: Float] = ["f32": 0, "f16": 0.22, "q8_0": 2.0]
    static let variants = ["f32", "f16", "q8_0"]

    static var options: EngineOptions {
        var o = EngineOptions()
        o.threads = 2
        return o
    }

    static let reference: Engine = try! Engine.load(modelDirectory: Fixtures.tinyModel, options: options)
    static let cases: [ExpectedCase] = try! Expected.cases()

    /// An engine over a GGUF variant, its tokenizer built from the file's metadata too.
    static func engine(_ variant: String) throws -> Engine {
        let checkpoint = try GGUFCheckpoint.load(GGUFTestFiles.fixture(variant))
        let t = checkpoint.tokenizer
        let tokenizer = try GPT2Tokenizer(
            tokens: t.tokens, merges: t.merges, specialTokenIds: t.specialTokenIds,
            userDefinedTokenIds: t.userDefinedTokenIds, source: t.source,
            tokensField: GGUFTokenizerTables.tokensField, mergesField: GGUFTokenizerTables.mergesField)
        return try Engine(weights: checkpoint.weights, tokenizer: tokenizer, name: "tiny-gpt2-\(variant)", options: options)
    }

    func testConfigMatchesConfigJSON() throws {
        let expected = try GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json"))
        for variant in Self.variants {
            let (config, weights) = try GPT2Weights.load(gguf: GGUFTestFiles.fixture(variant))
            XCTAssertEqual(config, expected, variant)
            XCTAssertEqual(weights.config, expected, variant)
            XCTAssertEqual(weights.source, GGUFTestFiles.fixture(variant).path)
            XCTAssertFalse(weights.isZeroCopy, "the Conv1D weights are transposed, so copied")
        }
        XCTAssertEqual(try GPT2Weights.load(gguf: GGUFTestFiles.fixture("f16")).1.dtype, "float16")
        XCTAssertEqual(try GPT2Weights.load(gguf: GGUFTestFiles.fixture("q8_0")).1.dtype, "q8_0")
    }

    func testEveryWeightMatchesTheSafetensors() throws {
        let config = try GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json"))
        let hf = try GPT2Weights.load(directory: Fixtures.tinyModel, config: config)
        func pairs(_ w: GPT2Weights) -> [WeightTensor] {
            [w.wte, w.wpe, w.lnfWeight, w.lnfBias, w.lmHead] + w.layers.flatMap { l in
                [l.ln1Weight, l.ln1Bias, l.attnWeight, l.attnBias, l.attnProjWeight, l.attnProjBias,
                 l.ln2Weight, l.ln2Bias, l.fcWeight, l.fcBias, l.mlpProjWeight, l.mlpProjBias]
            }
        }
        let bounds: [String: Float] = ["f32": 0, "f16": 1e-3, "q8_0": 2e-2]
        for variant in Self.variants {
            let (_, gguf) = try GPT2Weights.load(gguf: GGUFTestFiles.fixture(variant))
            var worst: (Float, String) = (0, "")
            for (a, b) in zip(pairs(gguf), pairs(hf)) {
                XCTAssertEqual(a.shape, b.shape, "\(a.key) vs \(b.key)")
                let diff = zip(a.buffer, b.buffer).map { abs($0 - $1) }.max() ?? 0
                if diff > worst.0 { worst = (diff, a.key) }
                // Relative to the tensor's own scale: Q8_0 errors grow with each block's largest value.
                let scale = max(b.buffer.map(abs).max() ?? 0, 1e-30)
                XCTAssertLessThanOrEqual(diff / scale, bounds[variant]!, "\(variant) \(a.key)")
            }
            print("\(variant) weights: max |diff| from safetensors \(worst.0)\(worst.1.isEmpty ? "" : " (\(worst.1))")")
        }
    }

    func testLogitsMatchTheSafetensorsEngine() throws {
        for variant in Self.variants {
            let engine = try Self.engine(variant)
            var fromSafetensors: Float = 0, fromHF: Float = 0
            for c in Self.cases {
                XCTAssertEqual(engine.encode(c.prompt, addPrefixSpace: c.addPrefixSpace), c.ids, "\(variant) \(c.label)")
                let got = try engine.forward(ids: c.ids, positions: .all)
                let want = try Self.reference.forward(ids: c.ids, positions: .all)
                XCTAssertEqual(got.values.count, want.values.count)
                fromSafetensors = max(fromSafetensors, zip(got.values, want.values).map { abs($0 - $1) }.max() ?? .infinity)
                let firstRow = c.ids.count - c.logitRows
                let rows = Array(got.values[(firstRow * 50257)...])
                fromHF = max(fromHF, zip(rows, c.logits).map { abs($0 - $1) }.max() ?? .infinity)
            }
            let bound = Self.logitBounds[variant]!
            print("\(variant) logits over \(Self.cases.count) prompts: max |diff| from safetensors engine \(fromSafetensors), from HF \(fromHF) (bound \(bound))")
            XCTAssertLessThanOrEqual(fromSafetensors, bound, variant)
            XCTAssertLessThanOrEqual(fromHF, bound + 1e-3, variant)
        }
    }

    func testF16EngineEqualsSafetensorsRoundedToF16() throws {
        // The same model saved as safetensors with the 2-D weights (but not wpe) in F16, as the GGUF
        // variant stores them: both paths must give bit-identical logits.
        let dir = try GGUFTestFiles.temporaryDirectory()
        for name in ["config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.tinyModel.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        var writer = SafeTensorsWriter()
        let tensors = try Expected.readSafetensors(Fixtures.tinyModel.appendingPathComponent("model.safetensors"))
        for (name, (shape, values)) in tensors {
            let half = shape.count == 2 && !name.hasSuffix("wpe.weight")
            try writer.add(name, shape: shape, values: values, as: half ? .f16 : .f32)
        }
        try writer.write(to: dir.appendingPathComponent("model.safetensors"))
        let safetensors = try Engine.load(modelDirectory: dir, options: Self.options)
        let gguf = try Self.engine("f16")
        XCTAssertEqual(safetensors.info.dtype, "float16")
        for c in Self.cases {
            let a = try gguf.forward(ids: c.ids, positions: .all).values
            let b = try safetensors.forward(ids: c.ids, positions: .all).values
            XCTAssertEqual(a, b, c.label)
        }
    }

    func testF32GreedyGenerationMatchesHF() throws {
        let engine = try Self.engine("f32")
        for c in Self.cases {
            var options = GenerationOptions()
            options.maxTokens = 16
            options.stopAtEndOfText = false
            let generation = try engine.generate(ids: c.ids, options: options)
            XCTAssertEqual(generation.ids, c.greedyIds, c.label)
        }
    }
}
