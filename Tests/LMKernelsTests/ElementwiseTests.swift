import Foundation
import XCTest
@testable import LMKernels

/// layerNorm, add and softmax against `Reference` on seeded random inputs, unaligned buffers and
/// 1, 2 and 3 threads (the same bits for every thread count).
///
/// Tolerances: layerNorm 2e-6 × (|y| + |beta| + 1) — the mean and variance sums are added in eight
/// lanes rather than left to right; softmax relative 1e-6 on each probability against a double
/// computation from the same float differences x − max (vectorised exp good to 3e-7, sum in lanes),
/// and 5e-5 against `Reference`, whose left-to-right float sum of 50257 terms is itself off by ~1e-5;
/// add is exact.
final class ElementwiseTests: XCTestCase {
    func testLayerNorm() {
        for rows in [1, 3, 17] {
            for n in [1, 7, 8, 33, 768] {
                var rng = SeededRandom(seed: UInt64(rows * 1000 + n))
                let x = TestBuffer(random: rows * n, scale: 3, using: &rng)
                // An offset mean exercises the two-pass variance.
                for i in 0..<(rows * n) { x.pointer[i] += 5 }
                let gamma = TestBuffer(random: n, using: &rng), beta = TestBuffer(random: n, using: &rng)
                let expected = TestBuffer(count: rows * n)
                Reference.layerNorm(expected.pointer, x.pointer, gamma: gamma.pointer, beta: beta.pointer, rows: rows, n: n, eps: 1e-5)
                let scale = (0..<(rows * n)).map { abs(expected.values[$0]) + abs(beta.values[$0 % n]) + 1 }
                var first: [Float]?
                for kernels in splittingKernels {
                    let y = TestBuffer(count: rows * n)
                    kernels.layerNorm(y.pointer, x.pointer, gamma: gamma.pointer, beta: beta.pointer, rows: rows, n: n, eps: 1e-5)
                    XCTAssertTrue(y.guardsIntact)
                    let d = Difference(y.values, expected.values, scale: scale)
                    XCTAssertLessThanOrEqual(d.maxScaled, 2e-6, "layerNorm rows=\(rows) n=\(n) threads=\(kernels.threads): \(d)")
                    if let first { assertIdentical(y.values, first, "layerNorm threads=\(kernels.threads)") } else { first = y.values }
                    // In place (y aliases x) gives the same result.
                    let inPlace = x.copy()
                    kernels.layerNorm(inPlace.pointer, inPlace.pointer, gamma: gamma.pointer, beta: beta.pointer, rows: rows, n: n, eps: 1e-5)
                    assertIdentical(inPlace.values, y.values, "layerNorm in place rows=\(rows) n=\(n)")
                }
            }
        }
    }

    func testAdd() {
        for count in [0, 1, 7, 8, 9, 100, 768 * 5 + 3, 300_001] {
            var rng = SeededRandom(seed: UInt64(count))
            let x = TestBuffer(random: count, using: &rng), y0 = TestBuffer(random: count, using: &rng)
            let expected = y0.copy()
            Reference.add(expected.pointer, x.pointer, count: count)
            for kernels in splittingKernels + [Kernels()] {
                let y = y0.copy()
                kernels.add(y.pointer, x.pointer, count: count)
                XCTAssertTrue(y.guardsIntact)
                XCTAssertEqual(y.values, expected.values, "add count=\(count) threads=\(kernels.threads)")
            }
        }
    }

    func testSoftmax() {
        for count in [1, 2, 7, 8, 9, 100, 1023, 50257] {
            var rng = SeededRandom(seed: UInt64(count) + 77)
            let x = TestBuffer(random: count, scale: 20, using: &rng)
            if count > 3 { x.pointer[2] = -.infinity }  // a masked entry
            let expected = x.copy()
            Reference.softmax(expected.pointer, count: count)
            let y = x.copy()
            Kernels(threads: 2).softmax(y.pointer, count: count)
            XCTAssertTrue(y.guardsIntact)
            let d = Difference(y.values, expected.values)
            XCTAssertLessThanOrEqual(d.maxRel, 5e-5, "softmax count=\(count) vs Reference: \(d)")
            let top = x.values.max()!
            let exps = x.values.map { Foundation.exp(Double($0 - top)) }
            let sum = exps.reduce(0, +)
            let exact = Difference(y.values, exps.map { Float($0 / sum) })
            XCTAssertLessThanOrEqual(exact.maxRel, 1e-6, "softmax count=\(count) vs double: \(exact)")
            let total = y.values.reduce(0, +)
            XCTAssertEqual(total, 1, accuracy: 1e-4, "softmax count=\(count) sums to \(total)")
            if count > 3 { XCTAssertEqual(y.pointer[2], 0) }
        }
        // Huge logits do not overflow; equal ones share evenly.
        let big = TestBuffer([1e30, 1e30, -1e30])
        Kernels().softmax(big.pointer, count: 3)
        XCTAssertEqual(big.values, [0.5, 0.5, 0])
        let empty = TestBuffer(count: 0)
        Kernels().softmax(empty.pointer, count: 0)
        XCTAssertTrue(empty.guardsIntact)
    }

    /// log Σ exp against a double-precision sum of libm's exp: within 1e-6 relative to the row's
    /// normaliser (a probability computed from it is off by about that, a few float ulps), on short
    /// rows, rows of odd length, a vocabulary-sized row with a wide range, and rows with −inf entries.
    func testLogSumExp() {
        var rng = SeededRandom(seed: 77)
        let kernels = Kernels(threads: 1)
        func reference(_ x: [Float]) -> Double {
            let m = x.max() ?? -.infinity
            guard m.isFinite else { return Double(m) }
            return Double(m) + Foundation.log(x.reduce(0.0) { $0 + Foundation.exp(Double($1) - Double(m)) })
        }
        var worst = 0.0
        for count in [1, 2, 7, 8, 9, 100, 513, 4097, 50257] {
            for scale: Float in [0.1, 5, 30] {
                var x = (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
                if count > 10 { x[3] = -.infinity; x[count - 1] = -.infinity }
                let got = x.withUnsafeBufferPointer { kernels.logSumExp($0.baseAddress!, count: count) }
                let want = reference(x)
                let error = abs(got - want) / max(1, abs(want))
                worst = max(worst, error)
                XCTAssertLessThanOrEqual(error, 1e-6, "count \(count) scale \(scale): \(got) vs \(want)")
            }
        }
        print("logSumExp: worst relative error \(worst)")
        let allMinusInfinity = [Float](repeating: -.infinity, count: 11)
        XCTAssertEqual(allMinusInfinity.withUnsafeBufferPointer { kernels.logSumExp($0.baseAddress!, count: 11) }, -.infinity)
        var withNaN = [Float](repeating: 1, count: 20)
        withNaN[13] = .nan
        XCTAssertTrue(withNaN.withUnsafeBufferPointer { kernels.logSumExp($0.baseAddress!, count: 20) }.isNaN)
        let big: [Float] = [80, 88, 88.5]  // e^88.5 overflows a float: the max is taken out first
        XCTAssertEqual(big.withUnsafeBufferPointer { kernels.logSumExp($0.baseAddress!, count: 3) }, reference(big), accuracy: 1e-6)
    }
}
