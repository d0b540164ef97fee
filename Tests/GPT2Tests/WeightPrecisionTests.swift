import Foundation
@testable import GPT2
import LMKernels
import TestSupport
import XCTest

/// `GPT2Weights.converted(to:)` and a forward pass over converted weights.
final class WeightPrecisionTests: XCTestCase {
    static let narrow: [WeightPrecision] = [.float16, .bfloat16, .q8_0]

    /// Every tensor with its role: true for the matrices the matmuls read (and the embedding).
    private func tensors(_ w: GPT2Weights) -> [(WeightTensor, matrix: Bool)] {
        var list: [(WeightTensor, Bool)] = [(w.wte, true), (w.wpe, false), (w.lnfWeight, false), (w.lnfBias, false)]
        for l in w.layers {
            list += [(l.ln1Weight, false), (l.ln1Bias, false), (l.attnWeight, true), (l.attnBias, false),
                     (l.attnProjWeight, true), (l.attnProjBias, false), (l.ln2Weight, false), (l.ln2Bias, false),
                     (l.fcWeight, true), (l.fcBias, false), (l.mlpProjWeight, true), (l.mlpProjBias, false)]
        }
        return list
    }

    /// t's values as float32 (widened when stored narrower).
    private func floats(_ t: WeightTensor) -> [Float] {
        switch t.storage {
        case .float32(let p): return Array(UnsafeBufferPointer(start: p, count: t.count))
        case .packed, .packedTransposed: return GPT2Weights.withFloats(of: t) { Array(UnsafeBufferPointer(start: $0, count: t.count)) }
        case .quantized(let m): return QuantizedReference.dequantize(m)
        case .quantizedTransposed(let m):
            // m is the [K, N] transpose of the [N, K] tensor.
            let flipped = QuantizedReference.dequantize(m)
            return (0..<(m.columns * m.rows)).map { i in flipped[(i % m.rows) * m.columns + i / m.rows] }
        }
    }

    func testNamesParse() {
        XCTAssertEqual(WeightPrecision(name: "f16"), .float16)
        XCTAssertEqual(WeightPrecision(name: "FP16"), .float16)
        XCTAssertEqual(WeightPrecision(name: "bf16"), .bfloat16)
        XCTAssertEqual(WeightPrecision(name: "q8_0"), .q8_0)
        XCTAssertEqual(WeightPrecision(name: "f32"), .float32)
        XCTAssertNil(WeightPrecision(name: "q4_0"))
        XCTAssertNil(WeightPrecision(name: ""))
        for name in WeightPrecision.names { XCTAssertNotNil(WeightPrecision(name: name), name) }
        XCTAssertEqual(WeightPrecision.q8_0.rawValue, "q8_0")
        XCTAssertEqual(WeightPrecision.bfloat16.rawValue, "bfloat16")
    }

    func testConversionKeepsShapesKeysAndSmallTensorsAndTiesTheHead() throws {
        let original = try GPT2Weights.load(directory: Fixtures.tinyModel, config: GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json")))
        for precision in Self.narrow {
            let w = original.converted(to: precision)
            XCTAssertEqual(w.dtype, precision.rawValue)
            XCTAssertEqual(w.precision, precision)
            XCTAssertFalse(w.isZeroCopy)
            for ((t, matrix), (o, _)) in zip(tensors(w), tensors(original)) {
                XCTAssertEqual(t.key, o.key)
                XCTAssertEqual(t.shape, o.shape, t.key)
                XCTAssertEqual(t.precision, matrix ? precision : .float32, t.key)
                let a = floats(t), b = floats(o)
                if matrix {
                    // Each weight rounded once: relative error of float16 ≤ 2⁻¹¹, bfloat16 ≤ 2⁻⁸; q8_0
                    // within half a step of its block (≤ max|w| / 254).
                    var worst: Float = 0
                    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
                    let largest = b.map(abs).max() ?? 0
                    let bound: Float = precision == .float16 ? largest / 2048 : precision == .bfloat16 ? largest / 256 : largest / 254 * 1.001
                    XCTAssertLessThanOrEqual(worst, bound, "\(precision) \(t.key)")
                    XCTAssertGreaterThan(worst, 0, "\(precision) \(t.key) was not rounded at all")
                } else {
                    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(precision) \(t.key) is copied exactly")
                    XCTAssertNotEqual(t.pointer, o.pointer, "\(t.key) is a copy, not a view of the original")
                }
            }
            guard case .quantizedTransposed(let head) = w.lmHead.storage, case .quantizedTransposed(let wte) = w.wte.storage else {
                return XCTFail("\(precision): head not converted")
            }
            XCTAssertEqual(head.values, wte.values, "\(precision): the tied head is the converted embedding itself")
        }
    }

    func testConvertingToTheSamePrecisionCopiesNothing() {
        let w = GPT2Weights.random(config: GPT2Config(vocabSize: 100, nPositions: 16, nEmbd: 32, nLayer: 1, nHead: 2), seed: 1)
        XCTAssertTrue(w.converted(to: .float32) === w)
        let half = w.converted(to: .float16)
        XCTAssertTrue(half.converted(to: .float16) === half)
        // Back to float32: the widened values, exactly.
        let back = half.converted(to: .float32)
        XCTAssertEqual(back.dtype, "float32")
        XCTAssertEqual(back.precision, .float32)
        XCTAssertEqual(floats(back.layers[0].fcWeight), floats(half.layers[0].fcWeight))
        XCTAssertEqual(floats(back.wte), floats(half.wte))
    }

    func testTheOriginalCanBeReleased() {
        weak var released: GPT2Weights?
        var converted: GPT2Weights?
        do {
            let w = GPT2Weights.random(config: GPT2Config(vocabSize: 100, nPositions: 16, nEmbd: 32, nLayer: 1, nHead: 2), seed: 2)
            released = w
            converted = w.converted(to: .q8_0)
        }
        XCTAssertNil(released, "the converted weights keep the original alive")
        XCTAssertEqual(converted?.precision, .q8_0)
    }

    func testUntiedHeadIsConvertedOnItsOwn() {
        let config = GPT2Config(vocabSize: 100, nPositions: 16, nEmbd: 32, nLayer: 1, nHead: 2, tieWordEmbeddings: false)
        let w = GPT2Weights.random(config: config, seed: 3).converted(to: .bfloat16)
        guard case .quantizedTransposed(let head) = w.lmHead.storage, case .quantizedTransposed(let wte) = w.wte.storage else {
            return XCTFail("head or embedding not converted")
        }
        XCTAssertNotEqual(head.values, wte.values)
        XCTAssertEqual(head.columns, 100, "the head is kept as its transpose: a column per token")
        XCTAssertEqual(w.lmHead.shape, [100, 32])
    }

    /// A forward pass over converted weights is, bit for bit, the float32 pass over the widened weights
    /// (the embedding lookup included), for prefill, decode through the cache, and several threads.
    func testForwardEqualsFloat32OnWidenedWeights() throws {
        let config = GPT2Config(vocabSize: 300, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4)
        let base = GPT2Weights.random(config: config, seed: 4, std: 0.1)
        let tokens = [5, 17, 299, 0, 42, 42, 7, 100, 250, 3, 1]
        for precision in Self.narrow {
            let narrow = base.converted(to: precision)
            let widened = narrow.converted(to: .float32)
            for threads in [1, 2] {
                let a = GPT2Model(weights: narrow, kernels: Kernels(threads: threads))
                let b = GPT2Model(weights: widened, kernels: Kernels(threads: 1))
                let all = try a.forward(tokens, cache: a.makeCache(), logits: .all)
                XCTAssertEqual(all, try b.forward(tokens, cache: b.makeCache(), logits: .all), "\(precision) threads=\(threads)")
                // Decode: the last position's logits through the cache equal the full pass's last row.
                let cache = a.makeCache()
                _ = try a.forward(Array(tokens.dropLast()), cache: cache, logits: .none)
                let step = try a.forward([tokens.last!], cache: cache, logits: .last)
                XCTAssertEqual(step, Array(all.suffix(config.vocabSize)), "\(precision): decode step vs prefill row")
            }
        }
    }

    // MARK: Exact narrowing (the default for float16 and bfloat16 checkpoints)

    private static let gguf = Fixtures.root.appendingPathComponent("tiny-gpt2-gguf")

    func testAFloat16CheckpointNarrowsExactlyAndComputesTheSameBits() throws {
        let f16 = try GGUFCheckpoint.load(Self.gguf.appendingPathComponent("tiny-gpt2-f16.gguf")).weights
        XCTAssertEqual(f16.dtype, "float16")
        XCTAssertEqual(f16.precision, .float32, "loaded as exact float32 copies")
        let narrow = try XCTUnwrap(f16.exactlyNarrowed())
        XCTAssertEqual(narrow.precision, .float16)
        XCTAssertEqual(narrow.dtype, "float16")
        XCTAssertEqual(floats(narrow.layers[1].fcWeight), floats(f16.layers[1].fcWeight))
        XCTAssertEqual(floats(narrow.wte), floats(f16.wte))
        let tokens = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]
        let a = GPT2Model(weights: f16, kernels: Kernels(threads: 2)), b = GPT2Model(weights: narrow, kernels: Kernels(threads: 2))
        XCTAssertEqual(try a.forward(tokens, cache: a.makeCache(), logits: .all),
                       try b.forward(tokens, cache: b.makeCache(), logits: .all))
    }

    func testOnlyExactNarrowingIsDone() throws {
        let f32 = try GGUFCheckpoint.load(Self.gguf.appendingPathComponent("tiny-gpt2-f32.gguf")).weights
        XCTAssertNil(f32.exactlyNarrowed(), "a float32 checkpoint stays float32")
        let q8 = try GGUFCheckpoint.load(Self.gguf.appendingPathComponent("tiny-gpt2-q8_0.gguf")).weights
        XCTAssertNil(q8.exactlyNarrowed(), "q8_0 is never re-quantized by default")
        // Weights that only claim to be float16: their values do not fit, so nothing is narrowed.
        let random = GPT2Weights.random(config: GPT2Config(vocabSize: 100, nPositions: 16, nEmbd: 32, nLayer: 1, nHead: 2), seed: 5)
        let claiming = GPT2Weights(
            config: random.config, wte: random.wte, wpe: random.wpe, layers: random.layers, lnfWeight: random.lnfWeight,
            lnfBias: random.lnfBias, lmHead: random.lmHead, dtype: "float16", isZeroCopy: false, source: "test", owners: [random])
        XCTAssertNil(claiming.exactlyNarrowed())
        // The same claim over values that do fit (float16 values widened) narrows.
        let fitting = random.converted(to: .float16).converted(to: .float32)
        let honest = GPT2Weights(
            config: fitting.config, wte: fitting.wte, wpe: fitting.wpe, layers: fitting.layers, lnfWeight: fitting.lnfWeight,
            lnfBias: fitting.lnfBias, lmHead: fitting.lmHead, dtype: "float16", isZeroCopy: false, source: "test", owners: [fitting])
        XCTAssertEqual(honest.exactlyNarrowed()?.precision, .float16)
    }
}
