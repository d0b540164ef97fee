import Foundation
import GPT2
import SafeTensors
import TestSupport
import XCTest

/// One test per way a model folder can be bad: the error case, and a message naming file and key.
final class LoaderErrorTests: XCTestCase {
    override func tearDown() {
        LoaderFixtures.removeTemporaryDirectories()
        super.tearDown()
    }

    private typealias F = LoaderFixtures

    func testMissingConfigJSON() throws {
        let dir = try LoaderFixtures.temporaryDirectory()
        try FileManager.default.copyItem(at: F.tinyModelFile, to: dir.appendingPathComponent("model.safetensors"))
        F.expectError(try F.load(dir), file: dir.appendingPathComponent("config.json").path, key: nil) {
            if case .missingFile = $0 { return true }
            return false
        }
    }

    func testMissingModelSafetensors() throws {
        let dir = try LoaderFixtures.temporaryDirectory()
        try F.writeConfig(try F.tinyConfig(), to: dir)
        F.expectError(try F.load(dir), file: dir.appendingPathComponent("model.safetensors").path, key: nil) {
            if case .missingFile = $0 { return true }
            return false
        }
    }

    func testBadActivation() throws {
        let dir = try LoaderFixtures.temporaryDirectory()
        var config = try F.tinyConfig()
        config["activation_function"] = "swish"
        try F.writeConfig(config, to: dir)
        F.expectError(try F.load(dir), file: "config.json", key: "activation_function") {
            if case .unsupportedConfig(_, "activation_function", "\"swish\"", _) = $0 { return true }
            return false
        }
    }

    func testMissingKey() throws {
        let key = "transformer.h.1.ln_2.bias"
        let dir = try F.makeModel(tensors: try F.tinyTensors().filter { $0.name != key })
        F.expectError(try F.load(dir), file: "model.safetensors", key: key) {
            if case .missingTensor(_, key) = $0 { return true }
            return false
        }
        // No token embedding in either layout.
        let none = try F.makeModel(tensors: try F.tinyTensors().filter { !$0.name.hasSuffix("wte.weight") })
        F.expectError(try F.load(none), file: "model.safetensors", key: "transformer.wte.weight") {
            if case .missingTensor = $0 { return true }
            return false
        }
    }

    func testWrongShape() throws {
        let key = "transformer.h.0.attn.c_attn.weight"
        // The nn.Linear layout ([3C, C]) instead of Conv1D ([C, 3C]): same size, wrong shape.
        let tensors = try F.tinyTensors().map { t -> F.Tensor in
            var t = t
            if t.name == key { t.shape = [96, 32] }
            return t
        }
        F.expectError(try F.load(try F.makeModel(tensors: tensors)), file: "model.safetensors", key: key) {
            if case .shapeMismatch(_, key, [32, 96], [96, 32]) = $0 { return true }
            return false
        }
        // A config that disagrees with the checkpoint (n_embd 64 for 32-wide weights).
        let dir = try F.makeModel(tensors: try F.tinyTensors())
        var config = try F.tinyConfig()
        config["n_embd"] = 64
        try F.writeConfig(config, to: dir)
        F.expectError(try F.load(dir), file: "model.safetensors", key: "transformer.wte.weight") {
            if case .shapeMismatch(_, "transformer.wte.weight", [50257, 64], [50257, 32]) = $0 { return true }
            return false
        }
    }

    func testMoreLayersThanConfig() throws {
        let dir = try F.makeModel(tensors: try F.tinyTensors())
        var config = try F.tinyConfig()
        config["n_layer"] = 1
        try F.writeConfig(config, to: dir)
        F.expectError(try F.load(dir), file: "model.safetensors", key: "transformer.h.1.") {
            if case .unexpectedTensor = $0 { return true }
            return false
        }
    }

    func testTruncatedFile() throws {
        let dir = try F.modelWithEditedBytes { $0 = $0.prefix($0.count - 1000) }
        F.expectError(try F.load(dir), file: "model.safetensors", key: "transformer.wte.weight") {
            if case .corruptCheckpoint(.truncated(_, "transformer.wte.weight", _, _)) = $0 { return true }
            return false
        }
    }

    func testHeaderLengthLargerThanFile() throws {
        let dir = try F.modelWithEditedBytes { bytes in
            for i in 0..<8 { bytes[i] = i == 3 ? 0x10 : 0 }  // 2^28 bytes of header
        }
        F.expectError(try F.load(dir), file: "model.safetensors", key: nil) {
            if case .corruptCheckpoint(.headerLengthBeyondFile(_, 1 << 28, _)) = $0 { return true }
            return false
        }
    }

    func testMalformedHeaderJSON() throws {
        let dir = try F.modelWithEditedBytes { bytes in
            bytes[8] = UInt8(ascii: "[")  // the header's opening brace
        }
        F.expectError(try F.load(dir), file: "model.safetensors", key: nil) {
            if case .corruptCheckpoint(.malformedHeader) = $0 { return true }
            return false
        }
    }

    func testDataOffsetsOutOfRange() throws {
        let key = "transformer.h.0.ln_1.bias"
        let dir = try F.modelWithEditedHeader { header in
            var entry = header[key] as! [String: Any]
            entry["data_offsets"] = [10_000_000, 10_000_128]
            header[key] = entry
        }
        F.expectError(try F.load(dir), file: "model.safetensors", key: key) {
            if case .corruptCheckpoint(.offsetsOutOfRange(_, key, 10_000_000, 10_000_128, _)) = $0 { return true }
            return false
        }
    }

    func testUnsupportedDType() throws {
        let key = "transformer.ln_f.bias"
        var writer = SafeTensorsWriter()
        for t in try F.tinyTensors() where t.name != key {
            try writer.add(t.name, shape: t.shape, values: t.values)
        }
        try writer.add(key, shape: [32], dtype: .i64, bytes: [UInt8](repeating: 0, count: 32 * 8))
        let dir = try LoaderFixtures.temporaryDirectory()
        try F.writeConfig(try F.tinyConfig(), to: dir)
        try writer.write(to: dir.appendingPathComponent("model.safetensors"))
        F.expectError(try F.load(dir), file: "model.safetensors", key: key) {
            if case .unsupportedDType(_, key, "I64") = $0 { return true }
            return false
        }
        XCTAssertTrue("\(GPT2LoadError.unsupportedDType(file: "f", key: key, dtype: "I64"))".contains("I64"))
    }
}
