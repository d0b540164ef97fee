import Foundation
import GPT2
import SafeTensors
import TestSupport
import XCTest

final class LoaderTests: XCTestCase {
    override func tearDown() {
        LoaderFixtures.removeTemporaryDirectories()
        super.tearDown()
    }

    private typealias F = LoaderFixtures

    /// Every weight of `w` with the key it was read from (lm_head listed only when untied).
    private func allWeights(_ w: GPT2Weights) -> [WeightTensor] {
        var list = [w.wte, w.wpe]
        for l in w.layers {
            list += [l.ln1Weight, l.ln1Bias, l.attnWeight, l.attnBias, l.attnProjWeight, l.attnProjBias,
                     l.ln2Weight, l.ln2Bias, l.fcWeight, l.fcBias, l.mlpProjWeight, l.mlpProjBias]
        }
        list += [w.lnfWeight, w.lnfBias]
        if w.lmHead.pointer != w.wte.pointer { list.append(w.lmHead) }
        return list
    }

    /// Asserts that every weight of `w` equals, bit for bit, the fixture tensor `rename(key)` names.
    private func assertMatchesFixture(_ w: GPT2Weights, rename: (String) -> String = { $0 }, line: UInt = #line) throws {
        let reference = Dictionary(uniqueKeysWithValues: try F.tinyTensors().map { ($0.name, $0) })
        let weights = allWeights(w)
        XCTAssertEqual(weights.count, 2 + 12 * 2 + 2, line: line)
        for t in weights {
            let ref = try XCTUnwrap(reference[rename(t.key)], t.key, line: line)
            XCTAssertEqual(t.shape, ref.shape, t.key, line: line)
            XCTAssertEqual(Array(t.buffer).map(\.bitPattern), ref.values.map(\.bitPattern), t.key, line: line)
        }
    }

    func testLoadsTinyFixture() throws {
        let w = try F.load(Fixtures.tinyModel)
        XCTAssertEqual(w.config.nEmbd, 32)
        XCTAssertEqual(w.dtype, "float32")
        XCTAssertEqual(w.layers.count, 2)
        XCTAssertEqual(w.wte.shape, [50257, 32])
        XCTAssertEqual(w.wpe.shape, [128, 32])
        XCTAssertEqual(w.layers[1].attnWeight.shape, [32, 96])
        XCTAssertEqual(w.layers[1].attnBias.shape, [96])
        XCTAssertEqual(w.layers[1].attnProjWeight.shape, [32, 32])
        XCTAssertEqual(w.layers[1].fcWeight.shape, [32, 128])
        XCTAssertEqual(w.layers[1].fcBias.shape, [128])
        XCTAssertEqual(w.layers[1].mlpProjWeight.shape, [128, 32])
        XCTAssertEqual(w.lnfBias.shape, [32])
        XCTAssertEqual(w.wte.count, 50257 * 32)
        XCTAssertEqual(w.layers[0].fcWeight.key, "transformer.h.0.mlp.c_fc.weight")
        // Tied head: literally the same memory.
        XCTAssertEqual(w.lmHead.pointer, w.wte.pointer)
        XCTAssertEqual(w.lmHead.shape, [50257, 32])
        // A few values straight from the file, then everything.
        let first = try LoaderReference.f32(F.tinyModelFile, "transformer.wte.weight").prefix(8)
        XCTAssertEqual(Array(w.wte.buffer.prefix(8)), Array(first))
        XCTAssertNotEqual(first.first, 0)
        try assertMatchesFixture(w)
    }

    func testF32WeightsPointIntoTheMapping() throws {
        let file = try SafeTensorsFile.open(F.tinyModelFile)
        let config = try GPT2Config.load(from: F.tinyConfigFile)
        let w = try GPT2Weights.load(checkpoint: file, config: config)
        XCTAssertTrue(w.isZeroCopy)
        let lo = UInt(bitPattern: file.mappedRegion.baseAddress)
        let hi = lo + UInt(file.mappedRegion.count)
        for t in allWeights(w) {
            let p = UInt(bitPattern: t.pointer)
            XCTAssertTrue(p >= lo && p + UInt(4 * t.count) <= hi, "\(t.key) is not inside the mapping")
            XCTAssertEqual(p - lo, UInt(try XCTUnwrap(file.info(t.key)).byteRange.lowerBound), t.key)
        }
    }

    func testF16AndBF16CheckpointsConvertExactly() throws {
        for dtype in [DType.f16, .bf16] {
            let tensors = try F.tinyTensors().map { t -> F.Tensor in
                var t = t
                t.dtype = dtype
                return t
            }
            let dir = try F.makeModel(tensors: tensors)
            let file = dir.appendingPathComponent("model.safetensors")
            let w = try F.load(dir)
            XCTAssertEqual(w.dtype, dtype == .f16 ? "float16" : "bfloat16")
            XCTAssertFalse(w.isZeroCopy)
            for t in allWeights(w) {
                // The expected floats come from the stored 16-bit words, widened independently.
                let words = try LoaderReference.u16(file, t.key)
                let expected: [Float] = words.map { word in
                    if dtype == .bf16 { return Float(bitPattern: UInt32(word) << 16) }
                    return Float(Float16(bitPattern: word))
                }
                XCTAssertEqual(Array(t.buffer).map(\.bitPattern), expected.map(\.bitPattern), "\(dtype) \(t.key)")
            }
            // And the stored words are the nearest 16-bit values of the originals (spot check).
            let original = try LoaderReference.f32(F.tinyModelFile, "transformer.h.0.attn.c_attn.weight")
            let loaded = Array(w.layers[0].attnWeight.buffer)
            let tolerance: Float = dtype == .f16 ? 1.0 / 1024 : 1.0 / 128
            let maxRelative = zip(original, loaded).map { abs($0 - $1) / max(abs($0), 1e-4) }.max() ?? 0
            XCTAssertLessThanOrEqual(maxRelative, tolerance, "\(dtype): max relative difference \(maxRelative)")
            XCTAssertNotEqual(loaded, original)  // really rounded, not the F32 file
        }
    }

    func testOriginalGPT2KeyLayout() throws {
        let tensors = try F.tinyTensors().map { t -> F.Tensor in
            var t = t
            t.name = String(t.name.dropFirst("transformer.".count))
            return t
        }
        XCTAssertTrue(tensors.contains { $0.name == "h.0.attn.c_attn.weight" })
        let dir = try F.makeModel(tensors: tensors + [
            // The causal-mask buffers the original upload carries are skipped.
            F.Tensor(name: "h.0.attn.bias", shape: [1, 1, 2, 2], values: [1, 0, 1, 1]),
            F.Tensor(name: "h.1.attn.masked_bias", shape: [], values: [-1e4]),
        ])
        let w = try F.load(dir)
        XCTAssertEqual(w.layers[0].attnWeight.key, "h.0.attn.c_attn.weight")
        try assertMatchesFixture(w, rename: { "transformer." + $0 })
    }

    func testUntiedHead() throws {
        var config = try F.tinyConfig()
        config["tie_word_embeddings"] = false
        let tensors = try F.tinyTensors()
        let wte = try XCTUnwrap(tensors.first { $0.name == "transformer.wte.weight" })
        let head = F.Tensor(name: "lm_head.weight", shape: wte.shape, values: wte.values.map { $0 * -3 + 0.5 })
        let w = try F.load(try F.makeModel(config: config, tensors: tensors + [head]))
        XCTAssertNotEqual(w.lmHead.pointer, w.wte.pointer)
        XCTAssertEqual(w.lmHead.key, "lm_head.weight")
        XCTAssertEqual(Array(w.lmHead.buffer), head.values)
        XCTAssertEqual(Array(w.wte.buffer), wte.values)

        // With tie_word_embeddings (the default) a stored lm_head is ignored, as HF ties it.
        let tied = try F.load(try F.makeModel(tensors: tensors + [head]))
        XCTAssertEqual(tied.lmHead.pointer, tied.wte.pointer)

        // Untied but no lm_head stored: the head falls back to wte.
        let fallback = try F.load(try F.makeModel(config: config, tensors: tensors))
        XCTAssertEqual(fallback.lmHead.pointer, fallback.wte.pointer)

        // A stored lm_head of the wrong shape is refused.
        let bad = F.Tensor(name: "lm_head.weight", shape: [32, 50257], values: head.values)
        let dir = try F.makeModel(config: config, tensors: tensors + [bad])
        F.expectError(try F.load(dir), file: "model.safetensors", key: "lm_head.weight") {
            if case .shapeMismatch(_, _, [50257, 32], [32, 50257]) = $0 { return true }
            return false
        }
    }

    func testShardedCheckpoint() throws {
        var tensors = try F.tinyTensors()
        let dir = try LoaderFixtures.temporaryDirectory()
        try F.writeConfig(try F.tinyConfig(), to: dir)
        let split = tensors.partition { $0.name.hasPrefix("transformer.h.1") || $0.name.contains("wte") }
        let names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        var shardTensors = [Array(tensors[..<split]), Array(tensors[split...])]
        shardTensors = shardTensors.map { $0.sorted { $0.name < $1.name } }
        var weightMap: [String: String] = [:]
        for (name, group) in zip(names, shardTensors) {
            XCTAssertFalse(group.isEmpty)
            try F.write(group, to: dir.appendingPathComponent(name))
            for t in group { weightMap[t.name] = name }
        }
        let index: [String: Any] = ["metadata": ["total_size": 6551168], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))

        let w = try F.load(dir)
        XCTAssertTrue(w.source.hasSuffix("model.safetensors.index.json"))
        XCTAssertTrue(w.isZeroCopy)
        try assertMatchesFixture(w)

        // A shard gone missing is named, with a key it should hold.
        try FileManager.default.removeItem(at: dir.appendingPathComponent(names[1]))
        F.expectError(try F.load(dir), file: names[1], key: nil) {
            if case .corruptCheckpoint(.missingShard) = $0 { return true }
            return false
        }
    }

    func testRandomWeightsAreDeterministic() throws {
        var config = GPT2Config(vocabSize: 100, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2)
        let a = GPT2Weights.random(config: config, seed: 42)
        let b = GPT2Weights.random(config: config, seed: 42)
        let c = GPT2Weights.random(config: config, seed: 43)
        XCTAssertEqual(Array(a.layers[1].fcWeight.buffer), Array(b.layers[1].fcWeight.buffer))
        XCTAssertNotEqual(Array(a.layers[1].fcWeight.buffer), Array(c.layers[1].fcWeight.buffer))
        XCTAssertEqual(a.lmHead.pointer, a.wte.pointer)
        XCTAssertEqual(allWeights(a).map(\.count).reduce(0, +), config.parameterCount)
        XCTAssertEqual(a.layers[0].fcWeight.shape, [8, 32])
        XCTAssertEqual(a.layers[0].mlpProjWeight.shape, [32, 8])
        let values = Array(a.wte.buffer)
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        XCTAssertEqual(a.lnfWeight.buffer.reduce(0, +) / 8, 1, accuracy: 0.05)

        config.tieWordEmbeddings = false
        let untied = GPT2Weights.random(config: config, seed: 1)
        XCTAssertNotEqual(untied.lmHead.pointer, untied.wte.pointer)
        XCTAssertEqual(allWeights(untied).map(\.count).reduce(0, +), config.parameterCount)
    }
}
