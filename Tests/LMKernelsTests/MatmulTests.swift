import XCTest
@testable import LMKernels

/// `Kernels.matmul` and `matmulTransposed` against `Reference` on seeded random inputs.
///
/// Tolerance: each output may differ from the reference by at most 1e-5 × Σ|x_p·w_p| + |b| (the
/// size of the terms it sums — the scale of any dot product's rounding error). Results with 1, 2
/// and 3 threads must be the same bits.
final class MatmulTests: XCTestCase {
    static let rowCounts = [1, 2, 3, 4, 5, 6, 7, 17, 64]
    static let sizes = [1, 3, 7, 31, 33, 100, 129, 768]
    static let tolerance: Float = 1e-5

    /// Runs one shape through every thread count; returns the worst scaled difference seen.
    @discardableResult
    func check(m: Int, k: Int, n: Int, bias: Bool, transposed: Bool, seed: UInt64,
               kernels: [Kernels] = splittingKernels) -> Float {
        var rng = SeededRandom(seed: seed)
        let x = TestBuffer(random: m * k, using: &rng)
        let w = TestBuffer(random: k * n, using: &rng)
        let b = bias ? TestBuffer(random: n, using: &rng) : nil
        let expected = TestBuffer(count: m * n), scale = TestBuffer(count: m * n)
        let absX = TestBuffer(x.values.map(abs)), absW = TestBuffer(w.values.map(abs))
        let absB = b.map { TestBuffer($0.values.map(abs)) }
        let reference = transposed ? Reference.matmulTransposed : Reference.matmul
        reference(expected.pointer, x.pointer, w.pointer, b?.pointer, m, k, n)
        reference(scale.pointer, absX.pointer, absW.pointer, absB?.pointer, m, k, n)
        var first: [Float]?
        var worst: Float = 0
        for kernel in kernels {
            let y = TestBuffer(count: m * n)
            if transposed {
                kernel.matmulTransposed(y.pointer, x.pointer, w.pointer, bias: b?.pointer, m: m, k: k, n: n)
            } else {
                kernel.matmul(y.pointer, x.pointer, w.pointer, bias: b?.pointer, m: m, k: k, n: n)
            }
            let name = "\(transposed ? "matmulTransposed" : "matmul") m=\(m) k=\(k) n=\(n) bias=\(bias) threads=\(kernel.threads)"
            XCTAssertTrue(y.guardsIntact, "\(name) wrote outside y")
            let d = Difference(y.values, expected.values, scale: scale.values)
            XCTAssertLessThanOrEqual(d.maxScaled, Self.tolerance, "\(name): \(d)")
            worst = max(worst, d.maxScaled)
            if let first {
                assertIdentical(y.values, first, "\(name) differs from 1 thread")
            } else {
                first = y.values
            }
        }
        return worst
    }

    func testMatmulOddShapes() {
        var worst: Float = 0
        for m in Self.rowCounts {
            for k in Self.sizes {
                for n in Self.sizes where m * k * n <= 1_000_000 {
                    let seed = UInt64(m * 1_000_003 + k * 1009 + n)
                    worst = max(worst, check(m: m, k: k, n: n, bias: (m + k + n) % 2 == 0, transposed: false, seed: seed))
                }
            }
        }
        print("matmul odd shapes: worst difference relative to term sizes \(worst)")
    }

    func testMatmulTransposedOddShapes() {
        var worst: Float = 0
        for m in Self.rowCounts {
            for k in Self.sizes {
                for n in Self.sizes where m * k * n <= 1_000_000 {
                    let seed = UInt64(m * 1_000_033 + k * 1013 + n)
                    worst = max(worst, check(m: m, k: k, n: n, bias: (m + k + n) % 2 == 1, transposed: true, seed: seed))
                }
            }
        }
        print("matmulTransposed odd shapes: worst difference relative to term sizes \(worst)")
    }

    /// Several depth blocks, several column blocks and partial tiles at once.
    func testMatmulBlockedEdges() {
        check(m: 13, k: 600, n: 1100, bias: true, transposed: false, seed: 7)
        check(m: 8, k: 257, n: 513, bias: false, transposed: false, seed: 8)
        check(m: 7, k: 1000, n: 70, bias: true, transposed: true, seed: 9)
    }

    /// distilgpt2's decode shapes (M = 1), including the tied LM head, with the default kernels too.
    func testModelShapesDecode() {
        let kernels = splittingKernels + [Kernels()]
        check(m: 1, k: 768, n: 2304, bias: true, transposed: false, seed: 11, kernels: kernels)
        check(m: 1, k: 768, n: 3072, bias: true, transposed: false, seed: 12, kernels: kernels)
        check(m: 1, k: 3072, n: 768, bias: true, transposed: false, seed: 13, kernels: kernels)

    }

    /// The tied LM head, x[1, 768] · wte[50257, 768]ᵀ: all outputs computed, the reference checked on
    /// the first and last 700 rows (the reference is too slow in a debug build for all of them).
    func testLMHeadDecode() {
        let k = 768, n = 50257, window = 700
        var rng = SeededRandom(seed: 14)
        let x = TestBuffer(random: k, using: &rng)
        let w = TestBuffer(tiledRandom: k * n, using: &rng)
        var first: [Float]?
        for threads in [1, 2, 3] {
            let y = TestBuffer(count: n)
            Kernels(threads: threads).matmulTransposed(y.pointer, x.pointer, w.pointer, bias: nil, m: 1, k: k, n: n)
            XCTAssertTrue(y.guardsIntact)
            for start in [0, n - window] {
                let expected = TestBuffer(count: window), scale = TestBuffer(count: window)
                let absX = TestBuffer(x.values.map(abs))
                let absW = TestBuffer(Array(UnsafeBufferPointer(start: w.pointer + start * k, count: window * k)).map(abs))
                Reference.matmulTransposed(expected.pointer, x.pointer, w.pointer + start * k, bias: nil, m: 1, k: k, n: window)
                Reference.matmulTransposed(scale.pointer, absX.pointer, absW.pointer, bias: nil, m: 1, k: k, n: window)
                let d = Difference(Array(y.values[start..<(start + window)]), expected.values, scale: scale.values)
                XCTAssertLessThanOrEqual(d.maxScaled, Self.tolerance, "LM head rows \(start)…, threads=\(threads): \(d)")
            }
            if let first { assertIdentical(y.values, first, "LM head, \(threads) threads vs 1") } else { first = y.values }
        }
    }

    /// A small prefill on distilgpt2's MLP shapes.
    func testModelShapesPrefill() {
        check(m: 5, k: 768, n: 3072, bias: true, transposed: false, seed: 15)
        check(m: 5, k: 3072, n: 768, bias: true, transposed: false, seed: 16)
    }

    /// A row's result is the same bits whether it is computed alone (decode) or among many rows.
    func testRowsIndependentOfM() {
        for transposed in [false, true] {
            for m in [2, 4, 11] {
                var rng = SeededRandom(seed: UInt64(21 + m))
                let k = 103, n = 45
                let x = TestBuffer(random: m * k, using: &rng), w = TestBuffer(random: k * n, using: &rng)
                let b = TestBuffer(random: n, using: &rng)
                let all = TestBuffer(count: m * n), one = TestBuffer(count: n)
                let kernels = Kernels(threads: 2, minimumWork: 1)
                let run = transposed ? kernels.matmulTransposed : kernels.matmul
                run(all.pointer, x.pointer, w.pointer, b.pointer, m, k, n)
                for i in 0..<m {
                    run(one.pointer, x.pointer + i * k, w.pointer, b.pointer, 1, k, n)
                    assertIdentical(one.values, Array(all.values[(i * n)..<((i + 1) * n)]),
                                    "transposed=\(transposed) m=\(m): row \(i) alone vs in a batch")
                }
            }
        }
    }

    /// K = 0 gives the bias (or zeros); M = 0 or N = 0 writes nothing.
    func testEmptyShapes() {
        let b = TestBuffer([1, 2, 3])
        for transposed in [false, true] {
            let y = TestBuffer(count: 6)
            let x = TestBuffer(count: 0), w = TestBuffer(count: 0)
            let kernels = Kernels(threads: 2)
            let run = transposed ? kernels.matmulTransposed : kernels.matmul
            run(y.pointer, x.pointer, w.pointer, b.pointer, 2, 0, 3)
            XCTAssertEqual(y.values, [1, 2, 3, 1, 2, 3], "transposed=\(transposed)")
            let untouched = TestBuffer(count: 0)
            run(untouched.pointer, x.pointer, w.pointer, nil, 0, 5, 3)
            run(untouched.pointer, x.pointer, w.pointer, nil, 2, 5, 0)
            XCTAssertTrue(untouched.guardsIntact)
        }
    }
}
