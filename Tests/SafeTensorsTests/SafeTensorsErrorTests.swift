import Foundation
import SafeTensors
import TestSupport
import XCTest

/// One test per way a file can be bad; each checks the case and that the message names file and key.
final class SafeTensorsErrorTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TestFiles.temporaryDirectory()
    }

    override func tearDown() {
        TestFiles.removeTemporaryDirectories()
        super.tearDown()
    }

    private let eight = TestFiles.f32Bytes([1, 2])  // 8 bytes

    func testFileShorterThanLengthField() throws {
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: nil) {
            if case .fileTooSmall(_, 3) = $0 { return true }
            return false
        }
        let empty = dir.appendingPathComponent("empty.safetensors")
        try Data().write(to: empty)
        TestFiles.expectError(try SafeTensorsFile.open(empty), file: empty, key: nil) {
            if case .fileTooSmall(_, 0) = $0 { return true }
            return false
        }
    }

    func testHeaderLengthBeyondFile() throws {
        let url = try TestFiles.raw(dir, header: "{}", data: [], declaredLength: 1 << 40)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: nil) {
            if case .headerLengthBeyondFile(_, 1 << 40, _) = $0 { return true }
            return false
        }
        // The largest u64 must not overflow anything.
        let huge = try TestFiles.raw(dir, "huge.safetensors", header: "{}", data: [], declaredLength: .max)
        TestFiles.expectError(try SafeTensorsFile.open(huge), file: huge, key: nil) {
            if case .headerLengthBeyondFile = $0 { return true }
            return false
        }
    }

    func testMalformedJSON() throws {
        let url = try TestFiles.raw(dir, header: #"{"a": {"dtype": "F32", "#, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: nil) {
            if case .malformedHeader(_, nil, _) = $0 { return true }
            return false
        }
        let notObject = try TestFiles.raw(dir, "array.safetensors", header: "[1,2]", data: [])
        TestFiles.expectError(try SafeTensorsFile.open(notObject), file: notObject, key: nil) {
            if case .malformedHeader = $0 { return true }
            return false
        }
    }

    func testMalformedEntryNamesTheKey() throws {
        let cases = [
            #"{"w.bad":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
            #"{"w.bad":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#,
            #"{"w.bad":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
            #"{"w.bad":{"shape":[2],"data_offsets":[0,8]}}"#,
            #"{"w.bad":[1]}"#,
            #"{"__metadata__":{"format":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
        ]
        for (i, header) in cases.enumerated() {
            let url = try TestFiles.raw(dir, "bad\(i).safetensors", header: header, data: eight)
            let key = header.hasPrefix(#"{"__metadata__""#) ? "__metadata__" : "w.bad"
            TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: key) {
                if case .malformedHeader(_, key?, _) = $0 { return true }
                return false
            }
        }
    }

    func testUnknownDType() throws {
        let url = try TestFiles.raw(dir, header: #"{"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}"#, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: "w") {
            if case .unknownDType(_, "w", "F99") = $0 { return true }
            return false
        }
    }

    func testOffsetsOutOfRange() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[1000,1004]}}"#
        let url = try TestFiles.raw(dir, header: header, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: "b") {
            if case .offsetsOutOfRange(_, "b", 1000, 1004, 8) = $0 { return true }
            return false
        }
        let backwards = try TestFiles.raw(
            dir, "back.safetensors", header: #"{"c":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(backwards), file: backwards, key: "c") {
            if case .offsetsOutOfRange(_, "c", 8, 0, _) = $0 { return true }
            return false
        }
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let url = try TestFiles.raw(dir, header: header, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: "b") {
            if case .overlappingTensors(_, "b", "a") = $0 { return true }
            return false
        }
    }

    func testSizeNotMatchingShape() throws {
        let url = try TestFiles.raw(dir, header: #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#, data: eight)
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: "w") {
            if case .sizeMismatch(_, "w", [3], .f16, 6, 8) = $0 { return true }
            return false
        }
    }

    func testTruncatedFile() throws {
        // Consistent header, but the data section stops halfway through "b".
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let url = try TestFiles.raw(dir, header: header, data: eight + TestFiles.f32Bytes([3, 4]))
        TestFiles.expectError(try SafeTensorsFile.open(url), file: url, key: "b") {
            if case let .truncated(_, "b", expected, actual) = $0 { return expected == actual + 8 }
            return false
        }
        // And a real checkpoint cut in half.
        let cut = dir.appendingPathComponent("cut.safetensors")
        let whole = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("model.safetensors"))
        try whole.prefix(whole.count / 2).write(to: cut)
        TestFiles.expectError(try SafeTensorsFile.open(cut), file: cut, key: "transformer.wte.weight") {
            if case .truncated(_, "transformer.wte.weight", whole.count, whole.count / 2) = $0 { return true }
            return false
        }
    }
}
