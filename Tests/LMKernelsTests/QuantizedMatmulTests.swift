import XCTest
@testable import LMKernels

/// `Kernels.quantizedMatmul` and `quantizedMatmulTransposed` on weights stored as float16, bfloat16 and q8_0.
///
/// Each result is checked three ways: against `QuantizedReference` (values decoded one by one from their
/// bits, summed left to right) within 1e-5 × Σ|x_p·w_p| + |b| as `MatmulTests` does; bit for bit
/// against the float32 kernels on the dequantized matrix (the claim the quantized kernels make); and
/// bit for bit across 1, 2 and 3 threads.
final class QuantizedMatmulTests: XCTestCase {
    static let rowCounts = [1, 2, 3, 4, 5, 6, 7, 17, 64]
    static let sizes = [1, 3, 7, 31, 33, 100, 129, 768]
    static let tolerance: Float = 1e-5

    /// w[rows, columns] (float32, uniform in ±scale) converted to `format`.
    static func converted(_ format: QuantizedFormat, rows: Int, columns: Int, order: QuantizedTileOrder,
                          using rng: inout SeededRandom, scale: Float = 1) -> (QuantizedStorage, TestBuffer) {
        let w = TestBuffer(random: rows * columns, scale: scale, using: &rng)
        return (QuantizedStorage(converting: w.pointer, rows: rows, columns: columns, format: format, order: order), w)
    }

    /// The float32 matrix the kernels are meant to compute with, decoded by the fast path.
    static func dequantized(_ m: QuantizedMatrix) -> TestBuffer {
        let out = TestBuffer(count: m.rows * m.columns)
        for r in 0..<m.rows { m.dequantize(row: r, into: out.pointer + r * m.columns) }
        return out
    }

    /// Runs one shape through every thread count; returns the worst scaled difference from the reference.
    @discardableResult
    func check(_ format: QuantizedFormat, m: Int, k: Int, n: Int, bias: Bool, transposed: Bool, seed: UInt64,
               kernels: [Kernels] = splittingKernels) -> Float {
        var rng = SeededRandom(seed: seed)
        let x = TestBuffer(random: m * k, using: &rng)
        let (storage, _) = Self.converted(format, rows: transposed ? n : k, columns: transposed ? k : n,
                                          order: transposed ? .rowMajor : .columnMajor, using: &rng)
        defer { withExtendedLifetime(storage) {} }  // w is a view of it
        let w = storage.matrix
        let b = bias ? TestBuffer(random: n, using: &rng) : nil
        let dense = Self.dequantized(w)
        XCTAssertEqual(dense.values, QuantizedReference.dequantize(w), "\(format) dequantize(row:) vs reference decoding")

        // Reference, and Σ|x·w| + |b| as the scale of rounding errors.
        let expected = TestBuffer(count: m * n), scale = TestBuffer(count: m * n)
        let absX = TestBuffer(x.values.map(abs)), absW = TestBuffer(dense.values.map(abs))
        let absB = b.map { TestBuffer($0.values.map(abs)) }
        if transposed {
            QuantizedReference.matmulTransposed(expected.pointer, x.pointer, w, bias: b?.pointer, m: m, k: k, n: n)
            Reference.matmulTransposed(scale.pointer, absX.pointer, absW.pointer, bias: absB?.pointer, m: m, k: k, n: n)
        } else {
            QuantizedReference.matmul(expected.pointer, x.pointer, w, bias: b?.pointer, m: m, k: k, n: n)
            Reference.matmul(scale.pointer, absX.pointer, absW.pointer, bias: absB?.pointer, m: m, k: k, n: n)
        }
        // The float32 kernels on the dequantized weights.
        let float32 = TestBuffer(count: m * n)
        let f32Kernels = Kernels(threads: 1)
        if transposed {
            f32Kernels.matmulTransposed(float32.pointer, x.pointer, dense.pointer, bias: b?.pointer, m: m, k: k, n: n)
        } else {
            f32Kernels.matmul(float32.pointer, x.pointer, dense.pointer, bias: b?.pointer, m: m, k: k, n: n)
        }

        var worst: Float = 0
        for kernel in kernels {
            let y = TestBuffer(count: m * n)
            if transposed {
                kernel.quantizedMatmulTransposed(y.pointer, x.pointer, w, bias: b?.pointer, m: m, k: k, n: n)
            } else {
                kernel.quantizedMatmul(y.pointer, x.pointer, w, bias: b?.pointer, m: m, k: k, n: n)
            }
            let name = "\(format) \(transposed ? "matmulTransposed" : "matmul") m=\(m) k=\(k) n=\(n) bias=\(bias) threads=\(kernel.threads)"
            worst = max(worst, checkResult(
                y, expected: expected, scale: scale, tolerance: Self.tolerance, identical: float32.values,
                "\(name) (identical: float32 kernels on the dequantized weights)"))
        }
        return worst
    }

    func testMatmulOddShapes() {
        for format in QuantizedFormat.allCases {
            var worst: Float = 0
            for m in Self.rowCounts {
                for k in Self.sizes {
                    for n in Self.sizes where m * k * n <= 300_000 {
                        let seed = UInt64(m * 1_000_003 + k * 1009 + n)
                        worst = max(worst, check(format, m: m, k: k, n: n, bias: (m + k + n) % 2 == 0, transposed: false, seed: seed))
                    }
                }
            }
            print("\(format) matmul odd shapes: worst difference relative to term sizes \(worst)")
        }
    }

    func testMatmulTransposedOddShapes() {
        for format in QuantizedFormat.allCases {
            var worst: Float = 0
            for m in Self.rowCounts {
                for k in Self.sizes {
                    for n in Self.sizes where m * k * n <= 300_000 {
                        let seed = UInt64(m * 1_000_033 + k * 1013 + n)
                        worst = max(worst, check(format, m: m, k: k, n: n, bias: (m + k + n) % 2 == 1, transposed: true, seed: seed))
                    }
                }
            }
            print("\(format) matmulTransposed odd shapes: worst difference relative to term sizes \(worst)")
        }
    }

    /// Several depth and column blocks of the blocked kernel, partial tiles, and K not a multiple of 8.
    func testBlockedEdges() {
        for format in QuantizedFormat.allCases {
            check(format, m: 13, k: 600, n: 1100, bias: true, transposed: false, seed: 7)
            check(format, m: 8, k: 257, n: 513, bias: false, transposed: false, seed: 8)
            check(format, m: 7, k: 1000, n: 70, bias: true, transposed: true, seed: 9)
            check(format, m: 1, k: 77, n: 45, bias: true, transposed: true, seed: 10)
        }
    }

    /// distilgpt2's decode shapes (M = 1) and a small prefill, with the default kernels too.
    func testModelShapes() {
        let kernels = splittingKernels + [Kernels()]
        for format in QuantizedFormat.allCases {
            check(format, m: 1, k: 768, n: 2304, bias: true, transposed: false, seed: 11, kernels: kernels)
            check(format, m: 1, k: 3072, n: 768, bias: true, transposed: false, seed: 13, kernels: kernels)
            check(format, m: 3, k: 768, n: 3072, bias: true, transposed: false, seed: 12, kernels: kernels)
            check(format, m: 5, k: 3072, n: 768, bias: true, transposed: false, seed: 16, kernels: kernels)
        }
    }

    /// The tied LM head, x[M, 768] · wte[50257, 768]ᵀ for M = 1 and 3: equal to the float32 kernel on
    /// the dequantized weights, and to the reference on the first and last 300 rows.
    func testLMHead() {
        let k = 768, n = 50257, window = 300
        var rng = SeededRandom(seed: 14)
        let source = TestBuffer(tiledRandom: k * n, using: &rng)
        for format in QuantizedFormat.allCases {
            let storage = QuantizedStorage(converting: source.pointer, rows: n, columns: k, format: format, order: .rowMajor)
            defer { withExtendedLifetime(storage) {} }  // w is a view of it
            let w = storage.matrix
            let dense = Self.dequantized(w)
            for m in [1, 3] {
                let x = TestBuffer(random: m * k, using: &rng)
                let float32 = TestBuffer(count: m * n)
                Kernels(threads: 2).matmulTransposed(float32.pointer, x.pointer, dense.pointer, bias: nil, m: m, k: k, n: n)
                for threads in [1, 2, 3] {
                    let y = TestBuffer(count: m * n)
                    Kernels(threads: threads).quantizedMatmulTransposed(y.pointer, x.pointer, w, bias: nil, m: m, k: k, n: n)
                    XCTAssertTrue(y.guardsIntact)
                    assertIdentical(y.values, float32.values, "\(format) LM head m=\(m) threads=\(threads) vs float32 on dequantized")
                }
                for start in [0, n - window] {
                    let expected = TestBuffer(count: window)
                    for i in 0..<m {
                        for j in 0..<window {
                            var acc: Float = 0
                            for p in 0..<k { acc += x.pointer[i * k + p] * QuantizedReference.value(w, row: start + j, column: p) }
                            expected.pointer[j] = acc
                        }
                        let got = Array(float32.values[(i * n + start)..<(i * n + start + window)])
                        let d = Difference(got, expected.values)
                        // Terms are |x·w| ≤ 1 each: 768 of them bound the sum of magnitudes.
                        XCTAssertLessThanOrEqual(d.maxAbs, Self.tolerance * Float(k), "\(format) LM head rows \(start)…: \(d)")
                    }
                }
            }
        }
    }

    /// A row's result is the same bits alone (decode) or among many rows (prefill, batches).
    func testRowsIndependentOfM() {
        for format in QuantizedFormat.allCases {
            for transposed in [false, true] {
                for m in [2, 4, 5, 11] {
                    var rng = SeededRandom(seed: UInt64(21 + m))
                    let k = 103, n = 77
                    let x = TestBuffer(random: m * k, using: &rng)
                    let (storage, _) = Self.converted(format, rows: transposed ? n : k, columns: transposed ? k : n,
                                          order: transposed ? .rowMajor : .columnMajor, using: &rng)
                    defer { withExtendedLifetime(storage) {} }
                    let b = TestBuffer(random: n, using: &rng)
                    let all = TestBuffer(count: m * n), one = TestBuffer(count: n)
                    let kernels = Kernels(threads: 2, minimumWork: 1)
                    let run = transposed ? kernels.quantizedMatmulTransposed : kernels.quantizedMatmul
                    run(all.pointer, x.pointer, storage.matrix, b.pointer, m, k, n)
                    for i in 0..<m {
                        run(one.pointer, x.pointer + i * k, storage.matrix, b.pointer, 1, k, n)
                        assertIdentical(one.values, Array(all.values[(i * n)..<((i + 1) * n)]),
                                        "\(format) transposed=\(transposed) m=\(m): row \(i) alone vs in a batch")
                    }
                }
            }
        }
    }

    /// K = 0 gives the bias (or zeros); M = 0 or N = 0 writes nothing.
    func testEmptyShapes() {
        let b = TestBuffer([1, 2, 3])
        for format in QuantizedFormat.allCases {
            for transposed in [false, true] {
                let y = TestBuffer(count: 6)
                let x = TestBuffer(count: 0), source = TestBuffer(count: 0)
                let order: QuantizedTileOrder = transposed ? .rowMajor : .columnMajor
                let empty = QuantizedStorage(converting: source.pointer, rows: transposed ? 3 : 0, columns: transposed ? 0 : 3,
                                             format: format, order: order)
                let kernels = Kernels(threads: 2)
                let run = transposed ? kernels.quantizedMatmulTransposed : kernels.quantizedMatmul
                run(y.pointer, x.pointer, empty.matrix, b.pointer, 2, 0, 3)
                XCTAssertEqual(y.values, [1, 2, 3, 1, 2, 3], "\(format) transposed=\(transposed)")
                let none = QuantizedStorage(converting: source.pointer, rows: 0, columns: 0, format: format, order: order)
                let untouched = TestBuffer(count: 0)
                run(untouched.pointer, x.pointer, none.matrix, nil, 0, 0, 0)
                XCTAssertTrue(untouched.guardsIntact)
                withExtendedLifetime((empty, none)) {}
            }
        }
    }
}
