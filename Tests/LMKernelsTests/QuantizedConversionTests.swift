import XCTest
@testable import LMKernels

/// `QuantizedStorage`'s conversions and the tiled layout, checked against definitions written out here.
final class QuantizedConversionTests: XCTestCase {
    static let shapes = [(1, 1), (1, 33), (7, 31), (9, 32), (17, 100), (8, 64), (30, 7)]
    /// Every shape in both tile orders.
    static let cases: [(Int, Int, QuantizedTileOrder)] = shapes.flatMap { [($0.0, $0.1, .rowMajor), ($0.0, $0.1, .columnMajor)] }

    /// Values of every kind: ordinary, tiny (float16 subnormals and below), large, ±0.
    static func values(_ count: Int, seed: UInt64) -> TestBuffer {
        var rng = SeededRandom(seed: seed)
        let b = TestBuffer(count: count)
        for i in 0..<count {
            let u = Float.random(in: -1...1, using: &rng)
            switch i % 7 {
            case 0: b.pointer[i] = u * 1e-6
            case 1: b.pointer[i] = u * 3e4
            case 2: b.pointer[i] = i % 2 == 0 ? 0 : -0.0
            default: b.pointer[i] = u
            }
        }
        return b
    }

    /// The nearest float16 to x (|x| < 65504), decided in Double: of the candidate and its two
    /// neighbours, the closest; ties go to the one whose last bit is even.
    static func nearestHalf(_ x: Float) -> Float {
        let guess = Float16(x)
        var best = guess
        for c in [guess.nextDown, guess.nextUp] {
            let dc = abs(Double(c) - Double(x)), db = abs(Double(best) - Double(x))
            if dc < db || (dc == db && c.bitPattern & 1 == 0) { best = c }
        }
        return Float(best)
    }

    func testFloat16IsNearestAndExactlyDecoded() {
        for (rows, columns, order) in Self.cases {
            let source = Self.values(rows * columns, seed: UInt64(rows * 100 + columns))
            let storage = QuantizedStorage(converting: source.pointer, rows: rows, columns: columns, format: .float16, order: order)
            defer { withExtendedLifetime(storage) {} }
            let m = storage.matrix
            for r in 0..<rows {
                for c in 0..<columns {
                    let x = source.pointer[r * columns + c]
                    let v = QuantizedReference.value(m, row: r, column: c)
                    XCTAssertEqual(v.bitPattern, Self.nearestHalf(x).bitPattern, "float16 of \(x) at (\(r), \(c)) of \(rows)×\(columns)")
                    XCTAssertEqual(m.value(row: r, column: c).bitPattern, v.bitPattern)
                }
            }
        }
    }

    func testBFloat16IsNearestTiesToEven() {
        for (rows, columns, order) in Self.cases {
            let source = Self.values(rows * columns, seed: UInt64(rows * 101 + columns))
            let storage = QuantizedStorage(converting: source.pointer, rows: rows, columns: columns, format: .bfloat16, order: order)
            defer { withExtendedLifetime(storage) {} }
            let m = storage.matrix
            for r in 0..<rows {
                for c in 0..<columns {
                    let x = source.pointer[r * columns + c]
                    let v = QuantizedReference.value(m, row: r, column: c)
                    // The two bfloat16 values around x: x truncated, and one unit of its last place away.
                    let down = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
                    let up = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
                    let dd = abs(Double(x) - Double(down)), du = abs(Double(up) - Double(x))
                    let expected = dd < du ? down : du < dd ? up : ((down.bitPattern >> 16) & 1 == 0 ? down : up)
                    XCTAssertEqual(v.bitPattern, expected.bitPattern, "bfloat16 of \(x)")
                    XCTAssertEqual(m.value(row: r, column: c).bitPattern, v.bitPattern)
                }
            }
        }
    }

    func testQ8BlocksAreWithinHalfAStep() {
        for (rows, columns, order) in Self.cases {
            var rng = SeededRandom(seed: UInt64(rows * 103 + columns))
            let source = TestBuffer(random: rows * columns, scale: 0.1, using: &rng)
            let storage = QuantizedStorage(converting: source.pointer, rows: rows, columns: columns, format: .q8_0, order: order)
            defer { withExtendedLifetime(storage) {} }
            let m = storage.matrix
            for r in 0..<rows {
                for start in stride(from: 0, to: columns, by: 32) {
                    let block = start..<min(columns, start + 32)
                    let largest = block.map { abs(source.pointer[r * columns + $0]) }.max() ?? 0
                    let scale = Float(Float16(largest / 127))
                    var extreme = 0
                    for c in block {
                        let x = source.pointer[r * columns + c]
                        let v = QuantizedReference.value(m, row: r, column: c)
                        XCTAssertLessThanOrEqual(abs(v - x), scale / 2 * 1.0001, "q8_0 of \(x) at (\(r), \(c)), step \(scale)")
                        XCTAssertEqual(m.value(row: r, column: c).bitPattern, v.bitPattern)
                        extreme = max(extreme, Int((abs(v) / scale).rounded()))
                    }
                    XCTAssertEqual(extreme, 127, "the block's largest weight maps to ±127 (row \(r), columns \(block))")
                }
            }
        }
    }

    func testNonFiniteAndExtremeWeightsNeverTrap() {
        let specials: [Float] = [.nan, .infinity, -.infinity, 1e38, -1e38, 1e-40, 0, 70000, -70000, 65504]
        let source = TestBuffer(specials + [Float](repeating: 0.5, count: 30))
        for format in QuantizedFormat.allCases {
            let storage = QuantizedStorage(converting: source.pointer, rows: 1, columns: source.count, format: format, order: .rowMajor)
            defer { withExtendedLifetime(storage) {} }
            let m = storage.matrix
            let v = (0..<source.count).map { m.value(row: 0, column: $0) }
            switch format {
            case .float16:
                XCTAssertTrue(v[0].isNaN)
                XCTAssertEqual(v[1], .infinity); XCTAssertEqual(v[7], .infinity); XCTAssertEqual(v[9], 65504)
            case .bfloat16:
                XCTAssertTrue(v[0].isNaN)
                XCTAssertEqual(v[1], .infinity)
                XCTAssertEqual(v[4] / -1e38, 1, accuracy: 1.0 / 256, "bfloat16 keeps float32's range")
            case .q8_0:
                // A block with infinities saturates: finite values, NaN read as 0.
                XCTAssertEqual(v[0], 0)
                XCTAssertTrue(v.allSatisfy { $0.isFinite }, "\(v)")
                XCTAssertEqual(v[1], Float(Float16.greatestFiniteMagnitude) * 127)
            }
        }
    }

    /// The tiles: (row, column) lives in tile (row / 8, column / 32) — row group by row group, or column
    /// block by column block — in slab (column % 32) / 8, at row row % 8, column column % 8; padding is zero.
    func testTiledLayout() {
        let rows = 11, columns = 40
        let source = TestBuffer((0..<(rows * columns)).map { Float($0) })
        for order in [QuantizedTileOrder.rowMajor, .columnMajor] {
            let storage = QuantizedStorage(converting: source.pointer, rows: rows, columns: columns, format: .float16, order: order)
            defer { withExtendedLifetime(storage) {} }
            let m = storage.matrix
            XCTAssertEqual(m.tilesPerRow, 2)
            XCTAssertEqual(m.rowGroups, 2)
            XCTAssertEqual(m.byteCount, 4 * 8 * 32 * 2)
            let halves = m.values.assumingMemoryBound(to: Float16.self)
            for tile in 0..<4 {
                let (group, chunk) = order == .rowMajor ? (tile / 2, tile % 2) : (tile % 2, tile / 2)
                for slab in 0..<4 {
                    for r in 0..<8 {
                        for c in 0..<8 {
                            let row = group * 8 + r, column = chunk * 32 + slab * 8 + c
                            let expected: Float = row < rows && column < columns ? Float(row * columns + column) : 0
                            XCTAssertEqual(Float(halves[tile * 256 + slab * 64 + r * 8 + c]), expected, "\(order) tile \(tile) slab \(slab) (\(r), \(c))")
                        }
                    }
                }
            }
        }
        XCTAssertEqual(QuantizedFormat.q8_0.byteCount(rows: rows, columns: columns), 4 * 256 + 4 * 8 * 2)
    }
}
