import XCTest
@testable import LMKernels

/// `Kernels.matmul(_:_:packed:…)` on weights packed in column panels, against the row-major kernel
/// (the same bits: packing changes where values are, not the operations) and against `Reference`
/// (within `MatmulTests.tolerance` of the terms' size).
final class PackedMatmulTests: XCTestCase {
    static let rowCounts = [1, 2, 3, 5, 6, 7, 13, 40]
    static let sizes = [1, 3, 15, 16, 17, 33, 100, 257]

    /// Runs one shape on packed weights with 1, 2 and 3 threads; returns the worst scaled difference.
    @discardableResult
    func check(m: Int, k: Int, n: Int, bias: Bool, seed: UInt64) -> Float {
        var rng = SeededRandom(seed: seed)
        let x = TestBuffer(random: m * k, using: &rng)
        let w = TestBuffer(random: k * n, using: &rng)
        let b = bias ? TestBuffer(random: n, using: &rng) : nil
        let packed = PackedMatrix(packing: w.pointer, rows: k, columns: n)
        let expected = TestBuffer(count: m * n), scale = TestBuffer(count: m * n)
        let absX = TestBuffer(x.values.map(abs)), absW = TestBuffer(w.values.map(abs))
        let absB = b.map { TestBuffer($0.values.map(abs)) }
        Reference.matmul(expected.pointer, x.pointer, w.pointer, bias: b?.pointer, m: m, k: k, n: n)
        Reference.matmul(scale.pointer, absX.pointer, absW.pointer, bias: absB?.pointer, m: m, k: k, n: n)
        let rowMajor = TestBuffer(count: m * n)
        Kernels(threads: 1).matmul(rowMajor.pointer, x.pointer, w.pointer, bias: b?.pointer, m: m, k: k, n: n)
        var worst: Float = 0
        for kernel in splittingKernels {
            let y = TestBuffer(count: m * n)
            kernel.matmul(y.pointer, x.pointer, packed: packed, bias: b?.pointer, m: m)
            worst = max(worst, checkResult(
                y, expected: expected, scale: scale, tolerance: MatmulTests.tolerance, identical: rowMajor.values,
                "packed m=\(m) k=\(k) n=\(n) bias=\(bias) threads=\(kernel.threads) (identical: the row-major kernel)"))
        }
        return worst
    }

    func testOddShapes() {
        var worst: Float = 0
        for m in Self.rowCounts {
            for k in Self.sizes {
                for n in Self.sizes {
                    worst = max(worst, check(m: m, k: k, n: n, bias: (m + k + n) % 2 == 0, seed: UInt64(m * 7919 + k * 31 + n)))
                }
            }
        }
        print("packed matmul odd shapes: worst difference relative to term sizes \(worst)")
    }

    /// The blocked path (x too large to stream: M·K > `PackedGemm.streamingFloats`) with several depth
    /// and column blocks and partial panels and tiles, the streaming path at its largest, and
    /// distilgpt2's shapes.
    func testBlockedAndModelShapes() {
        XCTAssertGreaterThan(131 * 800, PackedGemm.streamingFloats)
        check(m: 131, k: 800, n: 530, bias: true, seed: 8)
        check(m: 37, k: 3000, n: 45, bias: false, seed: 9)
        check(m: 96, k: 1024, n: 40, bias: true, seed: 10)
        check(m: 13, k: 600, n: 1100, bias: true, seed: 1)
        check(m: 1, k: 768, n: 2304, bias: true, seed: 2)
        check(m: 4, k: 3072, n: 768, bias: true, seed: 3)
        check(m: 97, k: 300, n: 70, bias: false, seed: 4)
    }

    /// A row's result is the same bits alone (decode), in a few rows, or among many (prefill), streamed
    /// or blocked (200 × 600 floats of x are too many to stream).
    func testRowsIndependentOfM() {
        var rng = SeededRandom(seed: 5)
        let k = 600, n = 77, m = 200
        XCTAssertGreaterThan(m * k, PackedGemm.streamingFloats)
        let x = TestBuffer(random: m * k, using: &rng), w = TestBuffer(random: k * n, using: &rng)
        let b = TestBuffer(random: n, using: &rng)
        let packed = PackedMatrix(packing: w.pointer, rows: k, columns: n)
        let kernels = Kernels(threads: 2, minimumWork: 1)
        let all = TestBuffer(count: m * n)
        kernels.matmul(all.pointer, x.pointer, packed: packed, bias: b.pointer, m: m)
        for rows in [1, 3, 6, 20] {
            let some = TestBuffer(count: rows * n)
            for first in stride(from: 0, to: m - rows + 1, by: 7 * rows) {
                kernels.matmul(some.pointer, x.pointer + first * k, packed: packed, bias: b.pointer, m: rows)
                assertIdentical(some.values, Array(all.values[(first * n)..<((first + rows) * n)]),
                                "rows \(first)..<\(first + rows) as a \(rows)-row product vs in \(m) rows")
            }
        }
    }

    /// Packing keeps every value: `value(row:column:)` and `unpack` give the source back, and the
    /// padding of a partial last panel is zero.
    func testPackingKeepsValues() {
        var rng = SeededRandom(seed: 6)
        let k = 19, n = 37
        let w = TestBuffer(random: k * n, using: &rng)
        let packed = PackedMatrix(packing: w.pointer, rows: k, columns: n)
        XCTAssertEqual(packed.panels, 3)
        for r in 0..<k {
            for c in 0..<n { XCTAssertEqual(packed.value(row: r, column: c), w.values[r * n + c]) }
        }
        let back = TestBuffer(count: k * n)
        packed.unpack(into: back.pointer)
        assertIdentical(back.values, w.values, "unpacked")
        XCTAssertTrue(back.guardsIntact)
        for r in 0..<k {
            for lane in (n % 16)..<16 { XCTAssertEqual(packed.panel(2)[r * 16 + lane], 0, "padding of row \(r)") }
        }
    }

    /// The head's product x·wᵀ through a transpose packed in panels: its columns are w's rows, and the
    /// result is the row-major kernel's product with wᵀ, bit for bit, within tolerance of the reference.
    func testTransposedPacking() {
        var rng = SeededRandom(seed: 7)
        let vocab = 203, width = 45, m = 3
        let w = TestBuffer(random: vocab * width, using: &rng)  // [V, C], as wte
        let x = TestBuffer(random: m * width, using: &rng)
        let packed = PackedMatrix(packingTransposeOf: w.pointer, rows: vocab, columns: width)
        XCTAssertEqual(packed.rows, width)
        XCTAssertEqual(packed.columns, vocab)
        let row = TestBuffer(count: width)
        for v in [0, 1, 15, 16, 100, vocab - 1] {
            packed.copyColumn(v, into: row.pointer)
            assertIdentical(row.values, Array(w.values[(v * width)..<((v + 1) * width)]), "embedding row \(v)")
            XCTAssertTrue(row.guardsIntact)
        }
        // wᵀ row-major, for the row-major kernel.
        let wt = TestBuffer(count: vocab * width)
        for v in 0..<vocab { for c in 0..<width { wt.pointer[c * vocab + v] = w.values[v * width + c] } }
        let expected = TestBuffer(count: m * vocab), scale = TestBuffer(count: m * vocab), rowMajor = TestBuffer(count: m * vocab)
        Reference.matmulTransposed(expected.pointer, x.pointer, w.pointer, bias: nil, m: m, k: width, n: vocab)
        let absX = TestBuffer(x.values.map(abs)), absW = TestBuffer(w.values.map(abs))
        Reference.matmulTransposed(scale.pointer, absX.pointer, absW.pointer, bias: nil, m: m, k: width, n: vocab)
        Kernels(threads: 1).matmul(rowMajor.pointer, x.pointer, wt.pointer, bias: nil, m: m, k: width, n: vocab)
        for kernel in splittingKernels {
            let y = TestBuffer(count: m * vocab)
            kernel.matmul(y.pointer, x.pointer, packed: packed, bias: nil, m: m)
            let d = Difference(y.values, expected.values, scale: scale.values)
            XCTAssertLessThanOrEqual(d.maxScaled, MatmulTests.tolerance, "threads=\(kernel.threads): \(d)")
            assertIdentical(y.values, rowMajor.values, "threads=\(kernel.threads) vs the row-major kernel on wᵀ")
        }
    }

    /// Large matrices get 2 MB-aligned memory (so that the kernel may back them with huge pages);
    /// small ones are at least cache-line aligned.
    func testAlignedMemory() {
        let big = AlignedMemory(bytes: 5 << 20)
        XCTAssertEqual(Int(bitPattern: big.base) % (2 << 20), 0)
        big.base.storeBytes(of: 42, toByteOffset: big.count - 8, as: Int.self)
        XCTAssertEqual(big.base.load(fromByteOffset: big.count - 8, as: Int.self), 42)
        XCTAssertEqual(big.base.load(as: Int.self), 0, "fresh memory is zero")
        let small = AlignedMemory(bytes: 100)
        XCTAssertEqual(Int(bitPattern: small.base) % 64, 0)
    }
}
