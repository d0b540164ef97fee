import Foundation
import SafeTensors
import TestSupport
import XCTest

final class SafeTensorsFileTests: XCTestCase {
    override func tearDown() {
        TestFiles.removeTemporaryDirectories()
        super.tearDown()
    }

    private var model: URL { Fixtures.tinyModel.appendingPathComponent("model.safetensors") }

    func testOpensFixtureAndAgreesWithIndependentReader() throws {
        let file = try SafeTensorsFile.open(model)
        let (header, _) = try TestFiles.parse(model)
        let expectedNames = header.keys.filter { $0 != "__metadata__" }.sorted()
        XCTAssertEqual(file.tensorNames, expectedNames)
        XCTAssertEqual(file.tensorNames.count, 28)
        XCTAssertEqual(file.metadata, ["format": "pt"])

        let info = try XCTUnwrap(file.info("transformer.wte.weight"))
        XCTAssertEqual(info.dtype, .f32)
        XCTAssertEqual(info.shape, [50257, 32])
        XCTAssertEqual(info.byteRange.count, 50257 * 32 * 4)
        XCTAssertEqual(info.byteRange.lowerBound, file.dataStart + 118272)
        XCTAssertNil(file.info("nope"))

        for name in ["transformer.wte.weight", "transformer.h.1.mlp.c_proj.weight", "transformer.ln_f.bias"] {
            let tensor = try file.floats(name)
            let expected = try TestFiles.f32Values(model, name)
            XCTAssertEqual(tensor.count, expected.count)
            XCTAssertEqual(tensor.toArray(), expected, name)
        }
    }

    func testF32IsZeroCopyIntoTheMapping() throws {
        let file = try SafeTensorsFile.open(model)
        let tensor = try file.floats("transformer.wte.weight")
        XCTAssertTrue(tensor.isZeroCopy)
        let region = file.mappedRegion
        let base = UInt(bitPattern: region.baseAddress)
        let p = UInt(bitPattern: tensor.pointer)
        let info = try XCTUnwrap(file.info("transformer.wte.weight"))
        XCTAssertEqual(p, base + UInt(info.byteRange.lowerBound))
        XCTAssertLessThanOrEqual(p + UInt(tensor.count * 4), base + UInt(region.count))
        // The raw bytes view is the same memory.
        XCTAssertEqual(UInt(bitPattern: try file.bytes("transformer.wte.weight").baseAddress), p)
    }

    func testTensorOutlivesTheFileObject() throws {
        var tensor: FloatTensor?
        do {
            let file = try SafeTensorsFile.open(model)
            tensor = try file.floats("transformer.wpe.weight")
        }
        let expected = try TestFiles.f32Values(model, "transformer.wpe.weight")
        XCTAssertEqual(tensor?.toArray(), expected)
    }

    func testMisalignedF32IsCopied() throws {
        let dir = try TestFiles.temporaryDirectory()
        let values: [Float] = [1.5, -2.25, 3.0e-5, .infinity]
        // A header padded so that the data starts at an odd address.
        let url = try TestFiles.raw(
            dir, header: #"{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
            data: TestFiles.f32Bytes(values), padTo: 1)
        let file = try SafeTensorsFile.open(url)
        XCTAssertNotEqual(file.dataStart % 4, 0)
        let tensor = try file.floats("x")
        XCTAssertFalse(tensor.isZeroCopy)
        XCTAssertEqual(tensor.toArray(), values)
        XCTAssertEqual(tensor.shape, [2, 2])
    }

    func testEmptyAndScalarTensors() throws {
        let dir = try TestFiles.temporaryDirectory()
        let url = try TestFiles.raw(
            dir,
            header: #"{"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
            data: TestFiles.f32Bytes([7]))
        let file = try SafeTensorsFile.open(url)
        XCTAssertEqual(try file.floats("e").count, 0)
        XCTAssertEqual(try file.floats("s").toArray(), [7])
    }

    func testNonFloatDTypeIsRefusedAsFloatsButReadableAsBytes() throws {
        let dir = try TestFiles.temporaryDirectory()
        var writer = SafeTensorsWriter()
        try writer.add("ids", shape: [2], dtype: .i64, bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        let url = dir.appendingPathComponent("ids.safetensors")
        try writer.write(to: url)
        let file = try SafeTensorsFile.open(url)
        XCTAssertEqual(file.info("ids")?.dtype, .i64)
        XCTAssertEqual(Array(try file.bytes("ids")), [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        TestFiles.expectError(try file.floats("ids"), file: url, key: "ids") {
            if case .unsupportedDType(_, "ids", .i64) = $0 { return true }
            return false
        }
        XCTAssertTrue(SafeTensorsError.unsupportedDType(file: "f", key: "ids", dtype: .i64).description.contains("I64"))
    }

    func testMissingTensorAndMissingFile() throws {
        let file = try SafeTensorsFile.open(model)
        TestFiles.expectError(try file.floats("transformer.nope"), file: model, key: "transformer.nope") {
            if case .tensorNotFound = $0 { return true }
            return false
        }
        let missing = URL(fileURLWithPath: "/tmp/definitely-not-here-\(UInt32.random(in: 0...UInt32.max)).safetensors")
        TestFiles.expectError(try SafeTensorsFile.open(missing), file: missing, key: nil) {
            if case .cannotOpen = $0 { return true }
            return false
        }
    }
}
