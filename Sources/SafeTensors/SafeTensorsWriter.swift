import Foundation

/// Builds a safetensors file: tensors given as float32 (stored as F32, F16 or BF16) or as raw bytes.
///
/// Tensors are laid out end to end, widest dtype first and then by name (as the reference
/// implementation does), after a header padded with spaces to a multiple of 8 bytes, so that every
/// F32 tensor is 4-byte aligned in the file and reads zero-copy.
public struct SafeTensorsWriter {
    /// Where one tensor's values come from.
    private enum Source {
        case floats([Float])
        case fill((UnsafeMutableBufferPointer<Float>) -> Void)
        case bytes([UInt8])
    }

    private struct Entry {
        let name: String
        let shape: [Int]
        let dtype: DType
        let byteCount: Int
        let source: Source
    }

    /// The header's `__metadata__` (written only when non-empty).
    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names: Set<String> = []

    /// An empty writer.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor whose values are `values` (row-major), stored as `dtype` (F32, F16 or BF16;
    /// F16/BF16 round to nearest even).
    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: DType = .f32) throws {
        let count = try checkedCount(name, shape: shape, dtype: dtype, floatSource: true)
        guard values.count == count else {
            throw SafeTensorsError.invalidTensor(key: name, reason: "shape \(shape) needs \(count) values, got \(values.count)")
        }
        try append(name, shape: shape, dtype: dtype, count: count, source: .floats(values))
    }

    /// Adds a tensor whose values `fill` writes into a zeroed buffer when the file is written, so that
    /// large files need not hold every tensor in memory at once.
    public mutating func add(
        _ name: String, shape: [Int], as dtype: DType = .f32,
        fill: @escaping (UnsafeMutableBufferPointer<Float>) -> Void
    ) throws {
        let count = try checkedCount(name, shape: shape, dtype: dtype, floatSource: true)
        try append(name, shape: shape, dtype: dtype, count: count, source: .fill(fill))
    }

    /// Adds a tensor of any dtype from its raw little-endian bytes.
    public mutating func add(_ name: String, shape: [Int], dtype: DType, bytes: [UInt8]) throws {
        let count = try checkedCount(name, shape: shape, dtype: dtype, floatSource: false)
        if let needed = dtype.byteCount(elements: count), needed != bytes.count {
            throw SafeTensorsError.invalidTensor(
                key: name, reason: "shape \(shape) of \(dtype.rawValue) takes \(needed) bytes, got \(bytes.count)")
        }
        try append(name, shape: shape, dtype: dtype, count: count, source: .bytes(bytes))
    }

    /// The header JSON (unpadded) for the tensors added so far.
    public func headerJSON() -> String {
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(Self.quote($0)):\(Self.quote(metadata[$0] ?? ""))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for entry in orderedEntries {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append(
                "\(Self.quote(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + entry.byteCount)]}")
            offset += entry.byteCount
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// Writes the file to `url` (replacing it), tensor by tensor.
    public func write(to url: URL) throws {
        var header = Array(headerJSON().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var prefix = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i))) }

        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw SafeTensorsError.writeFailed(file: url.path, reason: "cannot create the file")
        }
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.write(contentsOf: prefix + header)
            for entry in orderedEntries {
                try handle.write(contentsOf: Self.encode(entry))
            }
        } catch {
            throw SafeTensorsError.writeFailed(file: url.path, reason: "\(error.localizedDescription)")
        }
    }

    /// The whole file as bytes (for small files made in memory).
    public func data() -> Data {
        var header = Array(headerJSON().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = Data()
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i)))) }
        out.append(contentsOf: header)
        for entry in orderedEntries { out.append(Self.encode(entry)) }
        return out
    }

    // MARK: - Internals

    /// Widest dtype first, then by name: keeps every F32 tensor 4-byte aligned after F16/BF16 ones.
    private var orderedEntries: [Entry] {
        entries.sorted { ($0.dtype.bitWidth, $1.name) > ($1.dtype.bitWidth, $0.name) }
    }

    private func checkedCount(_ name: String, shape: [Int], dtype: DType, floatSource: Bool) throws -> Int {
        guard !name.isEmpty, name != "__metadata__" else {
            throw SafeTensorsError.invalidTensor(key: name, reason: "the name is reserved or empty")
        }
        guard !names.contains(name) else {
            throw SafeTensorsError.invalidTensor(key: name, reason: "a tensor of that name was already added")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SafeTensorsError.invalidTensor(key: name, reason: "shape \(shape) has a negative dimension")
        }
        if floatSource, !dtype.isReadableAsFloat {
            throw SafeTensorsError.invalidTensor(key: name, reason: "float values can be stored as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw SafeTensorsError.invalidTensor(key: name, reason: "shape \(shape) is too large") }
            count = product
        }
        return count
    }

    private mutating func append(_ name: String, shape: [Int], dtype: DType, count: Int, source: Source) throws {
        guard let byteCount = dtype.byteCount(elements: count) else {
            throw SafeTensorsError.invalidTensor(key: name, reason: "shape \(shape) of \(dtype.rawValue) is not a whole number of bytes")
        }
        entries.append(Entry(name: name, shape: shape, dtype: dtype, byteCount: byteCount, source: source))
        names.insert(name)
    }

    /// One tensor's bytes as stored.
    private static func encode(_ entry: Entry) -> Data {
        let values: [Float]
        switch entry.source {
        case let .bytes(bytes):
            return Data(bytes)
        case let .floats(v):
            values = v
        case let .fill(fill):
            let count = entry.shape.reduce(1, *)
            var v = [Float](repeating: 0, count: count)
            v.withUnsafeMutableBufferPointer { fill($0) }
            values = v
        }
        var out = Data(count: entry.byteCount)
        out.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { v in
                switch entry.dtype {
                case .f16:
                    for i in 0..<v.count {
                        raw.storeBytes(of: FloatConversion.halfBits(from: v[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                case .bf16:
                    for i in 0..<v.count {
                        raw.storeBytes(of: FloatConversion.bfloat16Bits(from: v[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                default:
                    #if _endian(little)
                    if let base = raw.baseAddress, let source = v.baseAddress {
                        base.copyMemory(from: source, byteCount: 4 * v.count)
                    }
                    #else
                    for i in 0..<v.count {
                        raw.storeBytes(of: v[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                    #endif
                }
            }
        }
        return out
    }

    /// `s` as a JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
