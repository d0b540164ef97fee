import Foundation
import SafeTensors
import TestSupport
import XCTest

final class SafeTensorsWriterTests: XCTestCase {
    override func tearDown() {
        TestFiles.removeTemporaryDirectories()
        super.tearDown()
    }

    func testRoundTripAllFloatDTypes() throws {
        let dir = try TestFiles.temporaryDirectory()
        let values: [Float] = [0, -0.0, 1, -2.5, 0.1, 65504, 1e-7, -3.0e38, .infinity, 0.33333334, 12345.678, -1e-3]
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "note": "quote \" and \\ and é"])
        try writer.add("h", shape: [3, 4], values: values, as: .f16)
        try writer.add("f", shape: [3, 4], values: values, as: .f32)
        try writer.add("b", shape: [12], values: values, as: .bf16)
        try writer.add("odd", shape: [1], values: [5], as: .f16)  // 2 bytes: would misalign F32 after it
        let url = dir.appendingPathComponent("rt.safetensors")
        try writer.write(to: url)
        XCTAssertEqual(try Data(contentsOf: url), writer.data())

        let file = try SafeTensorsFile.open(url)
        XCTAssertEqual(file.dataStart % 8, 0)
        XCTAssertEqual(file.metadata["note"], "quote \" and \\ and é")
        XCTAssertEqual(file.tensorNames, ["b", "f", "h", "odd"])

        let f = try file.floats("f")
        XCTAssertTrue(f.isZeroCopy)
        XCTAssertEqual(f.toArray().map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(f.shape, [3, 4])

        let h = try file.floats("h")
        XCTAssertFalse(h.isZeroCopy)
        XCTAssertEqual(h.storedDType, .f16)
        let b = try file.floats("b")
        XCTAssertEqual(b.storedDType, .bf16)
        #if !(os(macOS) && arch(x86_64))
        // Swift's own Float16 is the independent reference for rounding and widening.
        XCTAssertEqual(h.toArray().map(\.bitPattern), values.map { Float(Float16($0)).bitPattern })
        #endif
        // bfloat16 keeps the top 16 bits after rounding: the error is at most half a unit in the 8th bit.
        for (x, y) in zip(values, b.toArray()) where x.isFinite && abs(x) < 3e38 {
            XCTAssertLessThanOrEqual(abs(x - y), abs(x) / 256, "\(x) → \(y)")
        }
        XCTAssertEqual(b.toArray()[0], 0)
        XCTAssertEqual(b.toArray()[2], 1)
        XCTAssertEqual(b.toArray()[3], -2.5)
        XCTAssertEqual(b.toArray()[8], .infinity)
        XCTAssertEqual(try file.floats("odd").toArray(), [5])
    }

    func testFillSourceAndRefusals() throws {
        var writer = SafeTensorsWriter()
        try writer.add("g", shape: [2, 3], as: .f32) { buffer in
            for i in buffer.indices { buffer[i] = Float(i) }
        }
        XCTAssertThrowsError(try writer.add("g", shape: [1], values: [1]))           // duplicate
        XCTAssertThrowsError(try writer.add("x", shape: [2], values: [1]))           // too few values
        XCTAssertThrowsError(try writer.add("y", shape: [1], values: [1], as: .i32)) // floats as ints
        XCTAssertThrowsError(try writer.add("z", shape: [2], dtype: .i64, bytes: [1, 2]))
        XCTAssertThrowsError(try writer.add("__metadata__", shape: [1], values: [1]))
        let dir = try TestFiles.temporaryDirectory()
        let url = dir.appendingPathComponent("g.safetensors")
        try writer.write(to: url)
        let file = try SafeTensorsFile.open(url)
        XCTAssertEqual(file.tensorNames, ["g"])
        XCTAssertEqual(try file.floats("g").toArray(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try TestFiles.f32Values(url, "g"), [0, 1, 2, 3, 4, 5])
    }
}
