import TestSupport
import XCTest
@testable import LMKernels

/// The seeded generator (SplitMix64) every test target shares, so every run sees the same inputs.
typealias SeededRandom = FuzzRandom

/// A float buffer that deliberately starts one float past a 64-byte boundary (so never 32-byte
/// aligned), with guard values on both sides to catch writes out of bounds.
final class TestBuffer {
    static let guardValue: Float = 12345.678
    static let guardCount = 16
    let count: Int
    private let storage: UnsafeMutablePointer<Float>
    private let raw: UnsafeMutableRawPointer

    init(count: Int) {
        self.count = count
        var p: UnsafeMutableRawPointer?
        posix_memalign(&p, 64, (count + 2 * Self.guardCount + 1) * 4)
        raw = p!
        storage = raw.bindMemory(to: Float.self, capacity: count + 2 * Self.guardCount + 1) + 1
        storage.initialize(repeating: Self.guardValue, count: count + 2 * Self.guardCount)
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    /// Uniform values in −scale … scale.
    convenience init(random count: Int, scale: Float = 1, using rng: inout SeededRandom) {
        self.init(count: count)
        for i in 0..<count { pointer[i] = Float.random(in: -scale...scale, using: &rng) }
    }

    /// A large buffer filled quickly (debug builds are slow per element): 4099 random values
    /// repeated, so rows of most widths still differ from their neighbours.
    convenience init(tiledRandom count: Int, scale: Float = 1, using rng: inout SeededRandom) {
        self.init(count: count)
        let tile = TestBuffer(random: Swift.min(count, 4099), scale: scale, using: &rng)
        var i = 0
        while i < count {
            let n = Swift.min(tile.count, count - i)
            (pointer + i).update(from: tile.pointer, count: n)
            i += n
        }
    }

    deinit { free(raw) }

    var pointer: UnsafeMutablePointer<Float> { storage + Self.guardCount }
    var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    func copy() -> TestBuffer { TestBuffer(values) }

    /// Whether the guard floats on both sides are untouched.
    var guardsIntact: Bool {
        for i in 0..<Self.guardCount {
            if storage[i] != Self.guardValue || pointer[count + i] != Self.guardValue { return false }
        }
        return true
    }
}

/// How far `actual` is from `expected`, element by element.
struct Difference: CustomStringConvertible {
    var maxAbs: Float = 0
    var maxRel: Float = 0
    /// The largest |actual − expected| / scale[i] (the error relative to the size of the terms).
    var maxScaled: Float = 0
    var worstIndex = -1

    init(_ actual: [Float], _ expected: [Float], scale: [Float]? = nil) {
        precondition(actual.count == expected.count)
        for i in 0..<actual.count {
            let a = actual[i], e = expected[i]
            if a.isNaN || e.isNaN {
                if a.isNaN != e.isNaN { maxAbs = .nan; maxRel = .nan; maxScaled = .nan; worstIndex = i; return }
                continue
            }
            if a == e { continue }  // also equal infinities
            let d = abs(a - e)
            let s = scale.map { $0[i] } ?? 1
            let scaled = s > 0 ? d / s : d
            if d > maxAbs { maxAbs = d }
            if e != 0 { maxRel = max(maxRel, d / abs(e)) }
            if !(scaled <= maxScaled) { maxScaled = scaled; worstIndex = i }
        }
    }

    var description: String {
        "max abs diff \(maxAbs), max rel diff \(maxRel), max diff relative to term sizes \(maxScaled) (at \(worstIndex))"
    }
}

/// Kernels with 1, 2 and 3 threads that split even the smallest calls.
let splittingKernels = [1, 2, 3].map { Kernels(threads: $0, minimumWork: 1) }

/// Asserts two results are the same bits (±0 counted equal; NaN equal to NaN).
func assertIdentical(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    for i in 0..<min(a.count, b.count) where !(a[i] == b[i] || (a[i].isNaN && b[i].isNaN)) {
        XCTFail("\(message): element \(i) differs: \(a[i]) vs \(b[i])", file: file, line: line)
        return
    }
}

/// Checks one kernel's result: nothing written outside `y`, within `tolerance` of `expected` relative to
/// the size of the terms (`scale`), and the same bits as `identical`. Returns the scaled difference.
@discardableResult
func checkResult(
    _ y: TestBuffer, expected: TestBuffer, scale: TestBuffer, tolerance: Float, identical: [Float],
    _ name: String, file: StaticString = #filePath, line: UInt = #line
) -> Float {
    XCTAssertTrue(y.guardsIntact, "\(name) wrote outside y", file: file, line: line)
    let d = Difference(y.values, expected.values, scale: scale.values)
    XCTAssertLessThanOrEqual(d.maxScaled, tolerance, "\(name): \(d)", file: file, line: line)
    assertIdentical(y.values, identical, name, file: file, line: line)
    return d.maxScaled
}
