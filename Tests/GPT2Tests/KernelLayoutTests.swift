import Foundation
@testable import GPT2
import LMKernels
import TestSupport
import XCTest

/// `GPT2Weights.laidOutForKernels()`: the same values in the kernels' layouts, and the file pages it
/// gives back still read right.
final class KernelLayoutTests: XCTestCase {
    private func loadTiny() throws -> GPT2Weights {
        try GPT2Weights.load(directory: Fixtures.tinyModel, config: GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json")))
    }

    private func matrices(_ w: GPT2Weights) -> [WeightTensor] {
        [w.wte, w.lmHead] + w.layers.flatMap { [$0.attnWeight, $0.attnProjWeight, $0.fcWeight, $0.mlpProjWeight] }
    }

    private func floats(_ t: WeightTensor) -> [Float] {
        GPT2Weights.withFloats(of: t) { Array(UnsafeBufferPointer(start: $0, count: t.count)) }
    }

    func testSameValuesSameKeysAndATiedHead() throws {
        for original in [try loadTiny(), GPT2Weights.random(config: try GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json")), seed: 3)] {
            let laid = original.laidOutForKernels()
            XCTAssertTrue(laid.isLaidOutForKernels)
            XCTAssertFalse(original.isLaidOutForKernels)
            XCTAssertTrue(laid.laidOutForKernels() === laid, "a second call changes nothing")
            XCTAssertEqual(laid.dtype, original.dtype)
            XCTAssertEqual(laid.precision, .float32)
            for (a, b) in zip(matrices(laid), matrices(original)) {
                XCTAssertEqual(a.key, b.key)
                XCTAssertEqual(a.shape, b.shape, a.key)
                XCTAssertEqual(floats(a), floats(b), "\(a.key): values changed")
            }
            guard case .packedTransposed = laid.wte.storage else { return XCTFail("wte is not packed for the head") }
            guard case .packed = laid.layers[0].fcWeight.storage else { return XCTFail("c_fc is not packed") }
            XCTAssertTrue(GPT2Weights.sameMemory(laid.wte, laid.lmHead), "the tied head is still the embedding")
            // The embedding lookup reads a column of the packed transpose: the same row as before.
            let c = original.config.nEmbd
            var row = [Float](repeating: 0, count: c), expected = row
            for id in [0, 1, 17, 50256] {
                laid.wte.copyRow(id, into: &row)
                original.wte.copyRow(id, into: &expected)
                XCTAssertEqual(row, expected, "embedding of \(id)")
            }
            // The small tensors are shared with the original (whose pages around the matrices may
            // have been given back): still the same values.
            XCTAssertEqual(Array(laid.layers[1].fcBias.buffer), Array(original.layers[1].fcBias.buffer))
            XCTAssertEqual(Array(laid.wpe.buffer), Array(original.wpe.buffer))
        }
    }

    /// Narrowing laid-out weights gives what narrowing the originals gives.
    func testConversionFromLaidOutWeights() throws {
        let original = try loadTiny()
        let laid = original.laidOutForKernels()
        for precision in [WeightPrecision.float16, .q8_0] {
            let a = laid.converted(to: precision), b = original.converted(to: precision)
            for (x, y) in zip(matrices(a), matrices(b)) {
                XCTAssertEqual(floats(x), floats(y), "\(precision) \(x.key)")
            }
        }
    }

    /// On laid-out weights a pass gives the same bits with 1 and 2 threads, and the last position's
    /// logits alone equal the last row of every position's.
    func testPassesAgreeAcrossThreadsAndRows() throws {
        let original = try loadTiny()
        let two = GPT2Model(weights: original, kernels: Kernels(threads: 2))
        XCTAssertTrue(two.weights.isLaidOutForKernels)
        let one = GPT2Model(weights: two.weights, kernels: Kernels(threads: 1))
        let tokens = [464, 2068, 7586, 21831, 18045]
        let all = try two.forward(tokens, cache: two.makeCache(), logits: .all)
        let last = try one.forward(tokens, cache: one.makeCache(), logits: .last)
        let v = original.config.vocabSize
        XCTAssertEqual(all.count, tokens.count * v)
        XCTAssertEqual(last, Array(all[((tokens.count - 1) * v)...]))
    }
}
