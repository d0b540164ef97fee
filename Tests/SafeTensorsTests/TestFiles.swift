import Foundation
import SafeTensors
import TestSupport
import XCTest

/// Hand-made safetensors files for the tests, built byte by byte (independently of the writer).
enum TestFiles {
    /// Folders made by the current test, removed by `removeTemporaryDirectories` in tearDown.
    nonisolated(unsafe) private static var created: [URL] = []

    /// A fresh temporary folder that the test's tearDown removes.
    static func temporaryDirectory() throws -> URL {
        let dir = try Fixtures.temporaryDirectory("stt")
        created.append(dir)
        return dir
    }

    /// Removes every folder `temporaryDirectory` made.
    static func removeTemporaryDirectories() {
        for dir in created { try? FileManager.default.removeItem(at: dir) }
        created = []
    }

    /// Writes 8-byte length + `header` (padded to `pad` with spaces) + `data` into `dir/name`.
    /// `declaredLength` overrides the length field, to make a lying header.
    static func raw(
        _ dir: URL, _ name: String = "t.safetensors", header: String, data: [UInt8],
        declaredLength: UInt64? = nil, padTo pad: Int = 8
    ) throws -> URL {
        var h = Array(header.utf8)
        while (8 + h.count) % pad != 0 { h.append(0x20) }
        let length = declaredLength ?? UInt64(h.count)
        var bytes: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        bytes += h + data
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Little-endian bytes of float32 values.
    static func f32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }

    /// The header JSON and data bytes of a tiny independent reader: (header object, data section).
    static func parse(_ url: URL) throws -> (header: [String: Any], data: Data) {
        let bytes = try Data(contentsOf: url)
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        let header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as! [String: Any]
        return (header, bytes.subdata(in: (8 + n)..<bytes.count))
    }

    /// F32 values of `key`, read by the independent parser.
    static func f32Values(_ url: URL, _ key: String) throws -> [Float] {
        let (header, data) = try parse(url)
        let entry = header[key] as! [String: Any]
        let offsets = entry["data_offsets"] as! [Int]
        let slice = data.subdata(in: offsets[0]..<offsets[1])
        return stride(from: 0, to: slice.count, by: 4).map { i in
            var bits: UInt32 = 0
            for j in 0..<4 { bits |= UInt32(slice[slice.startIndex + i + j]) << (8 * UInt32(j)) }
            return Float(bitPattern: bits)
        }
    }

    /// Asserts that `body` throws a SafeTensorsError, hands it to `check`, and checks that its
    /// description names `file` (its last path component) and, when given, `key`.
    static func expectError(
        _ body: @autoclosure () throws -> Any, file: URL, key: String?,
        line: UInt = #line, _ check: (SafeTensorsError) -> Bool
    ) {
        do {
            _ = try body()
            XCTFail("expected an error", line: line)
        } catch let error as SafeTensorsError {
            XCTAssertTrue(check(error), "unexpected case: \(error)", line: line)
            XCTAssertTrue(error.description.contains(file.lastPathComponent), "no file in: \(error)", line: line)
            if let key { XCTAssertTrue(error.description.contains(key), "no key in: \(error)", line: line) }
        } catch {
            XCTFail("unexpected error type: \(error)", line: line)
        }
    }
}
