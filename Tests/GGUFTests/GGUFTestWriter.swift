import Foundation
import GGUF
import TestSupport

/// A minimal GGUF writer for tests, written from the format description (not from the reader), so
/// that files with every metadata type, odd alignments, or deliberate damage can be made at run time.
struct GGUFTestWriter {
    /// One tensor: its name, ggml `ne` (fastest first), type, and exact stored bytes.
    struct Tensor {
        var name: String
        var dimensions: [Int]
        var type: GGUFTensorType
        var bytes: [UInt8]
        /// Written instead of the computed offset when set (to make bad offsets).
        var offsetOverride: UInt64? = nil
    }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []
    /// The padding used for the data section and between tensors (write `general.alignment` to match).
    var alignment = 32

    /// The file's bytes.
    func data() -> Data {
        var out = Data("GGUF".utf8)
        append(version, to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            appendString(key, to: &out)
            append(value.type.rawValue, to: &out)
            appendPayload(value, to: &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset = pad(offset + t.bytes.count)
        }
        for (t, o) in zip(tensors, offsets) {
            appendString(t.name, to: &out)
            append(UInt32(t.dimensions.count), to: &out)
            for d in t.dimensions { append(UInt64(d), to: &out) }
            append(t.type.rawValue, to: &out)
            append(t.offsetOverride ?? UInt64(o), to: &out)
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: pad(out.count) - out.count))
        for (t, o) in zip(tensors, offsets) {
            out.append(contentsOf: t.bytes)
            out.append(contentsOf: [UInt8](repeating: 0, count: pad(o + t.bytes.count) - (o + t.bytes.count)))
        }
        return out
    }

    /// Writes the file into a fresh temporary directory and returns its URL.
    func write(name: String = "model.gguf") throws -> URL {
        let url = try GGUFTestFiles.temporaryDirectory().appendingPathComponent(name)
        try data().write(to: url)
        return url
    }

    private func pad(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func append<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private func appendString(_ s: String, to out: inout Data) {
        append(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: Array(s.utf8))
    }

    private func appendPayload(_ value: GGUFValue, to out: inout Data) {
        switch value {
        case let .uint8(v): append(v, to: &out)
        case let .int8(v): append(v, to: &out)
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .bool(v): append(UInt8(v ? 1 : 0), to: &out)
        case let .string(s): appendString(s, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .array(type, elements):
            append(type.rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for e in elements { appendPayload(e, to: &out) }
        }
    }

    // MARK: - Encoding values

    /// Float32 values as little-endian bytes.
    static func f32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    /// Raw 16-bit patterns as little-endian bytes.
    static func u16Bytes(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    /// Q8_0 blocks: for each block, the scale's binary16 bits and 32 int8.
    static func q8Bytes(_ blocks: [(scaleBits: UInt16, q: [Int8])]) -> [UInt8] {
        blocks.flatMap { block in u16Bytes([block.scaleBits]) + block.q.map { UInt8(bitPattern: $0) } }
    }
}

/// Temporary files for the GGUF tests, removed by `removeAll` in tearDown.
enum GGUFTestFiles {
    nonisolated(unsafe) private static var created: [URL] = []

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = try Fixtures.temporaryDirectory("gguf")
        created.append(dir)
        return dir
    }

    /// Removes every directory made so far.
    static func removeAll() {
        for dir in created { try? FileManager.default.removeItem(at: dir) }
        created = []
    }

    /// The committed fixtures.
    static var directory: URL { Fixtures.root.appendingPathComponent("tiny-gpt2-gguf") }
    /// One committed variant: "f32", "f16" or "q8_0".
    static func fixture(_ variant: String) -> URL { directory.appendingPathComponent("tiny-gpt2-\(variant).gguf") }

    /// A writer holding everything in `file` (metadata and tensors, bytes as stored), to change and write
    /// back out: how the error tests make damaged copies of a valid model.
    static func rewriter(_ file: GGUFFile) throws -> GGUFTestWriter {
        var writer = GGUFTestWriter()
        writer.version = file.version
        writer.alignment = file.alignment
        writer.metadata = file.metadata.keys.map { ($0, file.metadata[$0]!) }
        writer.tensors = try file.tensors.map { info in
            GGUFTestWriter.Tensor(name: info.name, dimensions: info.dimensions, type: info.type, bytes: Array(try file.bytes(info.name)))
        }
        return writer
    }
}
