import Foundation
import GPT2
import SafeTensors
import TestSupport
import XCTest

/// Model folders made at run time from the tiny fixture: re-encoded, renamed, split, or damaged.
enum LoaderFixtures {
    /// One tensor to write.
    struct Tensor {
        var name: String
        var shape: [Int]
        var values: [Float]
        var dtype: DType = .f32
    }

    /// Folders made by the current test, removed by `removeTemporaryDirectories` in tearDown.
    nonisolated(unsafe) private static var created: [URL] = []

    /// A fresh temporary folder that the test's tearDown removes.
    static func temporaryDirectory() throws -> URL {
        let dir = try Fixtures.temporaryDirectory("ldr")
        created.append(dir)
        return dir
    }

    /// Removes every folder `temporaryDirectory` made.
    static func removeTemporaryDirectories() {
        for dir in created { try? FileManager.default.removeItem(at: dir) }
        created = []
    }

    static var tinyModelFile: URL { Fixtures.tinyModel.appendingPathComponent("model.safetensors") }
    static var tinyConfigFile: URL { Fixtures.tinyModel.appendingPathComponent("config.json") }

    /// The fixture's tensors, read with the independent reader.
    static func tinyTensors() throws -> [Tensor] {
        let (header, _) = try LoaderReference.parse(tinyModelFile)
        return try header.keys.filter { $0 != "__metadata__" }.sorted().map { name in
            let entry = header[name] as! [String: Any]
            return Tensor(name: name, shape: entry["shape"] as! [Int], values: try LoaderReference.f32(tinyModelFile, name))
        }
    }

    /// The fixture's config.json as a mutable JSON object.
    static func tinyConfig() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: tinyConfigFile)) as! [String: Any]
    }

    /// A fresh model folder holding `config` and `tensors` written as one model.safetensors.
    static func makeModel(config: [String: Any]? = nil, tensors: [Tensor]) throws -> URL {
        let dir = try temporaryDirectory()
        try writeConfig(config ?? tinyConfig(), to: dir)
        try write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    /// Writes `config` as `dir/config.json`.
    static func writeConfig(_ config: [String: Any], to dir: URL) throws {
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
            .write(to: dir.appendingPathComponent("config.json"))
    }

    /// Writes tensors into one safetensors file.
    static func write(_ tensors: [Tensor], to url: URL) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for t in tensors { try writer.add(t.name, shape: t.shape, values: t.values, as: t.dtype) }
        try writer.write(to: url)
    }

    /// A copy of the fixture folder whose safetensors header `modify` edits (the data section is
    /// copied unchanged), for headers that lie.
    static func modelWithEditedHeader(_ modify: (inout [String: Any]) -> Void) throws -> URL {
        let dir = try temporaryDirectory()
        try writeConfig(tinyConfig(), to: dir)
        var (header, data) = try LoaderReference.parse(tinyModelFile)
        modify(&header)
        var json = try JSONSerialization.data(withJSONObject: header)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var bytes = Data((0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) })
        bytes.append(json)
        bytes.append(data)
        try bytes.write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    /// A copy of the fixture folder whose model.safetensors bytes `modify` edits.
    static func modelWithEditedBytes(_ modify: (inout Data) -> Void) throws -> URL {
        let dir = try temporaryDirectory()
        try writeConfig(tinyConfig(), to: dir)
        var bytes = try Data(contentsOf: tinyModelFile)
        modify(&bytes)
        try bytes.write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    /// Loads config and weights from a folder the way the engine does.
    static func load(_ dir: URL) throws -> GPT2Weights {
        let config = try GPT2Config.load(from: dir.appendingPathComponent("config.json"))
        return try GPT2Weights.load(directory: dir, config: config)
    }

    /// Asserts that `body` throws a GPT2LoadError, that `check` accepts it, and that its description
    /// names `file` (last path component) and, when given, `key`.
    static func expectError(
        _ body: @autoclosure () throws -> Any, file: String, key: String?,
        line: UInt = #line, _ check: (GPT2LoadError) -> Bool
    ) {
        do {
            _ = try body()
            XCTFail("expected a GPT2LoadError", line: line)
        } catch let error as GPT2LoadError {
            XCTAssertTrue(check(error), "unexpected case: \(error)", line: line)
            XCTAssertTrue(error.description.contains(file), "file \(file) not named in: \(error)", line: line)
            if let key { XCTAssertTrue(error.description.contains(key), "key \(key) not named in: \(error)", line: line) }
        } catch {
            XCTFail("not a GPT2LoadError: \(error)", line: line)
        }
    }
}

/// A tiny safetensors reader written independently of the SafeTensors module, as the reference.
enum LoaderReference {
    /// The header object and the data section.
    static func parse(_ url: URL) throws -> (header: [String: Any], data: Data) {
        let bytes = try Data(contentsOf: url)
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        let header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as! [String: Any]
        return (header, bytes.subdata(in: (8 + n)..<bytes.count))
    }

    /// The stored bytes of `key`.
    static func bytes(_ url: URL, _ key: String) throws -> [UInt8] {
        let (header, data) = try parse(url)
        let offsets = (header[key] as! [String: Any])["data_offsets"] as! [Int]
        return Array(data.subdata(in: offsets[0]..<offsets[1]))
    }

    /// The values of an F32 tensor.
    static func f32(_ url: URL, _ key: String) throws -> [Float] {
        let b = try bytes(url, key)
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    /// The raw 16-bit words of an F16 or BF16 tensor.
    static func u16(_ url: URL, _ key: String) throws -> [UInt16] {
        let b = try bytes(url, key)
        return stride(from: 0, to: b.count, by: 2).map { UInt16(b[$0]) | UInt16(b[$0 + 1]) << 8 }
    }
}
