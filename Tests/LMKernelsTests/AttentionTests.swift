import XCTest
@testable import LMKernels

/// `Kernels.attention` against `Reference.attention` with the model's fused layouts (q, k, v side by
/// side in rows of 3·width, so strides are not the width), odd head sizes, and 1, 2 and 3 threads.
///
/// Tolerance: |out − reference| ≤ 2e-6 × max|v| per element (outputs are convex combinations of
/// rows of v; scores differ from the reference's by the order of their dot products' sums).
/// Results are the same bits for every thread count, and a one-query decode step gives the same
/// bits as the same query inside a prefill.
final class AttentionTests: XCTestCase {
    struct Case {
        let t, past, nHead, headDim: Int
    }

    /// Fused rows [q | k | v], each `width` wide, for `past + t` positions; q uses the last t rows.
    func makeInputs(_ c: Case, seed: UInt64) -> (buffer: TestBuffer, width: Int) {
        var rng = SeededRandom(seed: seed)
        let width = c.nHead * c.headDim
        return (TestBuffer(random: (c.past + c.t) * 3 * width, scale: 2, using: &rng), width)
    }

    func run(_ c: Case, _ kernels: Kernels?, inputs: TestBuffer, width: Int) -> TestBuffer {
        let stride = 3 * width
        let out = TestBuffer(count: c.t * width)
        let q = inputs.pointer + c.past * stride
        let keys = inputs.pointer + width, values = inputs.pointer + 2 * width
        let scale = 1 / Float(c.headDim).squareRoot()
        if let kernels {
            kernels.attention(out.pointer, q: q, qStride: stride, keys: keys, values: values, kvStride: stride,
                              t: c.t, past: c.past, nHead: c.nHead, headDim: c.headDim, scale: scale)
        } else {
            Reference.attention(out.pointer, q: q, qStride: stride, keys: keys, values: values, kvStride: stride,
                                t: c.t, past: c.past, nHead: c.nHead, headDim: c.headDim, scale: scale)
        }
        XCTAssertTrue(out.guardsIntact, "attention \(c) wrote outside out")
        return out
    }

    func testAgainstReference() {
        var cases: [Case] = []
        for (nHead, headDim) in [(1, 1), (2, 7), (3, 16), (2, 65), (12, 64)] {
            for (t, past) in [(1, 0), (1, 1), (1, 37), (2, 0), (5, 3), (30, 0), (31, 17), (50, 60)] {
                cases.append(Case(t: t, past: past, nHead: nHead, headDim: headDim))
            }
        }
        var worst: Float = 0
        for (index, c) in cases.enumerated() {
            let (inputs, width) = makeInputs(c, seed: UInt64(index) + 1)
            let expected = run(c, nil, inputs: inputs, width: width)
            let maxV = inputs.values.map(abs).max() ?? 1
            var first: [Float]?
            for kernels in splittingKernels {
                let out = run(c, kernels, inputs: inputs, width: width)
                let d = Difference(out.values, expected.values, scale: [Float](repeating: maxV, count: out.count))
                XCTAssertLessThanOrEqual(d.maxScaled, 2e-6, "attention \(c) threads=\(kernels.threads): \(d)")
                worst = max(worst, d.maxScaled)
                if let first { assertIdentical(out.values, first, "attention \(c) threads=\(kernels.threads)") } else { first = out.values }
            }
        }
        print("attention: worst difference relative to max|v| \(worst)")
    }

    /// Decoding query by query against a cache gives the same bits as one prefill of all queries.
    func testDecodeMatchesPrefill() {
        let total = 40
        let full = Case(t: total, past: 0, nHead: 3, headDim: 20)
        let (inputs, width) = makeInputs(full, seed: 99)
        let prefill = run(full, Kernels(threads: 2, minimumWork: 1), inputs: inputs, width: width)
        for step in [0, 1, 23, 24, 25, total - 1] {
            let c = Case(t: 1, past: step, nHead: 3, headDim: 20)
            let out = run(c, Kernels(threads: 1), inputs: inputs, width: width)
            assertIdentical(out.values, Array(prefill.values[(step * width)..<((step + 1) * width)]), "decode step \(step)")
        }
        // And a prefill continuing from a cache matches too.
        let rest = Case(t: 15, past: 25, nHead: 3, headDim: 20)
        let out = run(rest, Kernels(threads: 3, minimumWork: 1), inputs: inputs, width: width)
        assertIdentical(out.values, Array(prefill.values[(25 * width)...]), "prefill after 25 cached")
    }

    func testModelShapes() {
        for c in [Case(t: 1, past: 450, nHead: 12, headDim: 64), Case(t: 70, past: 0, nHead: 12, headDim: 64)] {
            let (inputs, width) = makeInputs(c, seed: 5)
            let expected = run(c, nil, inputs: inputs, width: width)
            let maxV = inputs.values.map(abs).max() ?? 1
            for kernels in [Kernels(threads: 1), Kernels()] {
                let out = run(c, kernels, inputs: inputs, width: width)
                let d = Difference(out.values, expected.values, scale: [Float](repeating: maxV, count: out.count))
                XCTAssertLessThanOrEqual(d.maxScaled, 2e-6, "attention \(c) threads=\(kernels.threads): \(d)")
            }
        }
    }

    /// The KV cache's layout (head by head: kvStride = headDim, heads `capacity·headDim` apart) gives the
    /// same bits as the same keys and values side by side in rows, for decode steps and prefills, with
    /// 1–3 threads, and stays within tolerance of the reference on that layout.
    func testHeadMajorLayout() {
        for (index, c) in [Case(t: 1, past: 0, nHead: 3, headDim: 20), Case(t: 1, past: 300, nHead: 12, headDim: 64),
                           Case(t: 7, past: 30, nHead: 4, headDim: 9), Case(t: 40, past: 0, nHead: 2, headDim: 64)].enumerated() {
            let (inputs, width) = makeInputs(c, seed: UInt64(200 + index))
            let positions = c.past + c.t, capacity = positions + 5, stride = 3 * width
            let keys = TestBuffer(count: c.nHead * capacity * c.headDim), values = TestBuffer(count: c.nHead * capacity * c.headDim)
            for s in 0..<positions {
                for h in 0..<c.nHead {
                    for d in 0..<c.headDim {
                        keys.pointer[(h * capacity + s) * c.headDim + d] = inputs.values[s * stride + width + h * c.headDim + d]
                        values.pointer[(h * capacity + s) * c.headDim + d] = inputs.values[s * stride + 2 * width + h * c.headDim + d]
                    }
                }
            }
            let q = inputs.pointer + c.past * stride
            let scale = 1 / Float(c.headDim).squareRoot()
            let rows = run(c, Kernels(threads: 1), inputs: inputs, width: width)
            let expected = TestBuffer(count: c.t * width)
            Reference.attention(expected.pointer, q: q, qStride: stride, keys: keys.pointer, values: values.pointer,
                                kvStride: c.headDim, kvHeadStride: capacity * c.headDim,
                                t: c.t, past: c.past, nHead: c.nHead, headDim: c.headDim, scale: scale)
            let maxV = inputs.values.map(abs).max() ?? 1
            for kernels in splittingKernels {
                let out = TestBuffer(count: c.t * width)
                kernels.attention(out.pointer, q: q, qStride: stride, keys: keys.pointer, values: values.pointer,
                                  kvStride: c.headDim, kvHeadStride: capacity * c.headDim,
                                  t: c.t, past: c.past, nHead: c.nHead, headDim: c.headDim, scale: scale)
                XCTAssertTrue(out.guardsIntact)
                assertIdentical(out.values, rows.values, "head-major \(c) threads=\(kernels.threads) vs rows")
                let d = Difference(out.values, expected.values, scale: [Float](repeating: maxV, count: out.count))
                XCTAssertLessThanOrEqual(d.maxScaled, 2e-6, "head-major \(c) threads=\(kernels.threads): \(d)")
            }
        }
    }
}
