import SafeTensors
import XCTest

final class FloatConversionTests: XCTestCase {
    func testHalfToFloatMatchesFloat16ForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
        var mismatches = 0
        for bits in 0...UInt16.max {
            let mine = FloatConversion.float(fromHalfBits: bits)
            let reference = Float(Float16(bitPattern: bits))
            if mine.isNaN ? !reference.isNaN : mine.bitPattern != reference.bitPattern { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0)
        #endif
        XCTAssertEqual(FloatConversion.float(fromHalfBits: 0x3C00), 1)
        XCTAssertEqual(FloatConversion.float(fromHalfBits: 0xC000), -2)
        XCTAssertEqual(FloatConversion.float(fromHalfBits: 0x7BFF), 65504)
        XCTAssertEqual(FloatConversion.float(fromHalfBits: 0x0001), 0x1p-24)
        XCTAssertEqual(FloatConversion.float(fromHalfBits: 0x7C00), .infinity)
        XCTAssertTrue(FloatConversion.float(fromHalfBits: 0x7E00).isNaN)
    }

    func testFloatToHalfRoundsLikeFloat16() {
        #if !(os(macOS) && arch(x86_64))
        var rng = SystemRandomNumberGenerator()
        var mismatches: [Float] = []
        // Random bit patterns cover every exponent, including subnormal halves and overflow.
        for _ in 0..<200_000 {
            let x = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            if x.isNaN { continue }
            if FloatConversion.halfBits(from: x) != Float16(x).bitPattern { mismatches.append(x) }
        }
        // Exact ties in the normal and subnormal range.
        for x: Float in [1 + 0x1p-11, 1 + 3 * 0x1p-11, 0x1p-25, 3 * 0x1p-25, 65520, 65519.99] {
            if FloatConversion.halfBits(from: x) != Float16(x).bitPattern { mismatches.append(x) }
        }
        XCTAssertEqual(mismatches, [])
        #endif
        XCTAssertEqual(FloatConversion.halfBits(from: 1), 0x3C00)
        XCTAssertTrue(FloatConversion.float(fromHalfBits: FloatConversion.halfBits(from: .nan)).isNaN)
    }

    func testBFloat16() {
        for bits in stride(from: 0, through: Int(UInt16.max), by: 1) {
            let b = UInt16(bits)
            let x = FloatConversion.float(fromBFloat16Bits: b)
            XCTAssertEqual(x.bitPattern, UInt32(b) << 16)
            if !x.isNaN { XCTAssertEqual(FloatConversion.bfloat16Bits(from: x), b) }
        }
        // Ties to even: 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷.
        XCTAssertEqual(FloatConversion.bfloat16Bits(from: 1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(FloatConversion.bfloat16Bits(from: 1 + 3 * 0x1p-8), 0x3F82)
        XCTAssertEqual(FloatConversion.bfloat16Bits(from: 1 + 0x1p-8 + 0x1p-20), 0x3F81)
        XCTAssertTrue(FloatConversion.float(fromBFloat16Bits: FloatConversion.bfloat16Bits(from: .nan)).isNaN)
    }
}
