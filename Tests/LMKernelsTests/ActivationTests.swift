import Foundation
import XCTest
@testable import LMKernels

/// The vectorised activations and exp against double-precision values of the same formulas, and
/// against `Reference`.
///
/// Tolerances: relative 1e-6 of the exact (double) value wherever that is a normal float, plus, on
/// the left tail, 2.5e-7 × |E| where E is the exponent the result decays with (2u for gelu_new,
/// x²/2 for gelu): the float evaluation of the argument u = √(2/π)(x + 0.044715x³) is itself good
/// to a few ulps only (the reference evaluates it the same way), and e^E magnifies that absolute
/// error. Below the normal range: absolute 1e-38. Against `Reference` (which loses the left tail to
/// the cancellation in 1 + tanh / 1 + erf): absolute 2e-7·max(1, |x|).
final class ActivationTests: XCTestCase {
    /// −10 … 10 in steps of 1/1024 (all exactly representable), plus a spread of large magnitudes.
    static let inputs: [Float] = {
        var xs = (-10 * 1024...10 * 1024).map { Float($0) / 1024 }
        for e in stride(from: -40, through: 38, by: 1) {
            let m = Float(pow(10.0, Double(e)))
            xs += [m, -m, 3.7 * m, -3.7 * m]
        }
        xs += [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        return xs.filter { $0.isFinite }
    }()

    static func exact(_ kind: Activation, _ x: Float) -> Double {
        let d = Double(x)
        switch kind {
        case .geluNew:
            let u = 0.7978845608028654 * (d + 0.044715 * d * d * d)
            // 0.5·(1 + tanh u) = 1 / (1 + e^−2u), which has no cancellation on the left.
            return d / (1 + Foundation.exp(-2 * u))
        case .gelu:
            return 0.5 * d * Foundation.erfc(-d / 2.0.squareRoot())
        case .relu:
            return x > 0 ? d : 0
        }
    }

    func run(_ kind: Activation, _ xs: [Float], threads: Int = 1) -> [Float] {
        let buffer = TestBuffer(xs)
        Kernels(threads: threads, minimumWork: 1).activate(buffer.pointer, count: xs.count, kind)
        XCTAssertTrue(buffer.guardsIntact)
        return buffer.values
    }

    func testAgainstExactValues() {
        let xs = Self.inputs
        for kind in Activation.allCases {
            let ys = run(kind, xs)
            var worstRel = 0.0, worstX: Float = 0, worstOverTolerance = 0.0
            for (x, y) in zip(xs, ys) {
                let e = Self.exact(kind, x)
                if abs(e) >= Double(Float.leastNormalMagnitude) && abs(e) <= Double(Float.greatestFiniteMagnitude) {
                    let rel = abs(Double(y) - e) / abs(e)
                    let d = Double(x), exponent: Double
                    switch kind {
                    case .geluNew: exponent = x < 0 ? 2 * 0.7978845608028654 * abs(d + 0.044715 * d * d * d) : 0
                    case .gelu: exponent = x < 0 ? d * d / 2 : 0
                    case .relu: exponent = 0
                    }
                    worstOverTolerance = max(worstOverTolerance, rel / (1e-6 + 2.5e-7 * exponent))
                    if rel > worstRel { worstRel = rel; worstX = x }
                } else {
                    XCTAssertLessThanOrEqual(abs(Double(y) - e), 1e-38, "\(kind) at x = \(x): \(y) vs exact \(e)")
                }
            }
            XCTAssertLessThanOrEqual(worstOverTolerance, 1, "\(kind): max rel diff \(worstRel) at x = \(worstX)")
            var ordinary = 0.0
            for (x, y) in zip(xs, ys) where x >= -3 && x <= 10 {
                let e = Self.exact(kind, x)
                guard abs(e) >= Double(Float.leastNormalMagnitude) else { continue }
                ordinary = max(ordinary, abs(Double(y) - e) / abs(e))
            }
            XCTAssertLessThanOrEqual(ordinary, 1e-6, "\(kind) on −3…10")
            print("\(kind.rawValue): max rel diff from exact \(worstRel) at x = \(worstX); on −3…10: \(ordinary)")
        }
    }

    func testAgainstReference() {
        let xs = Self.inputs
        for kind in Activation.allCases {
            let ys = run(kind, xs)
            let expected = TestBuffer(xs)
            Reference.activate(expected.pointer, count: xs.count, kind)
            let scale = xs.map { max(1, abs($0)) }
            let d = Difference(ys, expected.values, scale: scale)
            XCTAssertLessThanOrEqual(d.maxScaled, 2e-7, "\(kind) vs Reference: \(d)")
        }
    }

    /// ±0, ±inf and NaN give what the reference formula gives (−inf·0 is NaN for the GELUs).
    func testSpecialValues() {
        let xs: [Float] = [0, -0, .infinity, -.infinity, .nan, 1e30, -1e30, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for kind in Activation.allCases {
            let ys = run(kind, xs)
            for (x, y) in zip(xs, ys) {
                let r = kind.apply(x)
                XCTAssertTrue(y == r || (y.isNaN && r.isNaN), "\(kind)(\(x)) = \(y), reference \(r)")
                if x == 0 { XCTAssertEqual(y.sign, x.sign, "\(kind)(\(x)) keeps the sign of zero") }
            }
        }
        XCTAssertEqual(run(.relu, [.nan])[0], 0, "relu(NaN) is 0, as the reference's comparison gives")
        XCTAssertTrue(run(.geluNew, [.nan])[0].isNaN)
        XCTAssertTrue(run(.gelu, [.nan])[0].isNaN)
    }

    /// Any count (partial last vector) and any split give the same value for the same input.
    func testCountsAndSplits() {
        var rng = SeededRandom(seed: 3)
        let xs = (0..<1001).map { _ in Float.random(in: -6...6, using: &rng) }
        for kind in Activation.allCases {
            let whole = run(kind, xs)
            for threads in [2, 3] { assertIdentical(run(kind, xs, threads: threads), whole, "\(kind) threads=\(threads)") }
            for count in [1, 5, 8, 13] {
                assertIdentical(run(kind, Array(xs[7..<(7 + count)])), Array(whole[7..<(7 + count)]), "\(kind) count=\(count)")
            }
        }
    }

    func testExpAccuracy() {
        var xs = (-110 * 64...90 * 64).map { Float($0) / 64 }
        xs += [0, -0, 1e-30, -1e-30, 88.72, 88.73, -87.33, -103.9, -104.5]
        var worst = 0.0, worstX: Float = 0
        var i = 0
        while i < xs.count {
            let n = min(8, xs.count - i)
            let v = VectorMath.exp(VectorMath.loadPartial(Array(xs[i..<(i + n)]), count: n))
            for lane in 0..<n {
                let x = xs[i + lane], e = Foundation.exp(Double(x))
                if e > Double(Float.greatestFiniteMagnitude) {
                    XCTAssertEqual(v[lane], .infinity, "exp(\(x))")
                } else if e >= Double(Float.leastNormalMagnitude) {
                    let rel = abs(Double(v[lane]) - e) / e
                    if rel > worst { worst = rel; worstX = x }
                } else {
                    XCTAssertLessThanOrEqual(abs(Double(v[lane]) - e), 2e-45, "exp(\(x)) = \(v[lane]), exact \(e)")
                }
            }
            i += n
        }
        XCTAssertLessThanOrEqual(worst, 3e-7, "exp: max rel diff \(worst) at x = \(worstX)")
        print("exp: max rel diff from exact \(worst) at x = \(worstX)")
        let special = VectorMath.exp(SIMD8<Float>(.infinity, -.infinity, .nan, 0, 89, -200, 1, -1))
        XCTAssertEqual(special[0], .infinity)
        XCTAssertEqual(special[1], 0)
        XCTAssertTrue(special[2].isNaN)
        XCTAssertEqual(special[3], 1)
        XCTAssertEqual(special[4], .infinity)
        XCTAssertEqual(special[5], 0)
    }
}

private extension VectorMath {
    static func loadPartial(_ values: [Float], count: Int) -> SIMD8<Float> {
        values.withUnsafeBufferPointer { loadPartial($0.baseAddress!, count: count) }
    }
}
