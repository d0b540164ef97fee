import Foundation

/// The parsed and checked header of one safetensors file.
///
/// Layout: 8 bytes little-endian u64 N, then N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
/// then the data section, to which the offsets are relative.
struct SafeTensorsHeader {
    /// Every tensor, by name, with byte ranges made absolute (from the start of the file).
    let tensors: [String: TensorInfo]
    /// The free-form string map stored under `__metadata__` (empty when absent).
    let metadata: [String: String]
    /// Where the data section starts in the file: 8 + N.
    let dataStart: Int

    /// Parses and checks the header at the start of `bytes`, the whole file at `path`.
    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        let fileSize = bytes.count
        guard fileSize >= 8 else { throw SafeTensorsError.fileTooSmall(file: path, size: fileSize) }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(fileSize - 8) else {
            throw SafeTensorsError.headerLengthBeyondFile(file: path, headerLength: length, fileSize: fileSize)
        }
        let headerLength = Int(length)
        dataStart = 8 + headerLength
        let json = Data(bytes[8..<dataStart])

        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: json)
        } catch let error as EntryError {
            throw SafeTensorsError.malformedHeader(file: path, key: error.key, reason: error.reason)
        } catch let error as DecodingError {
            throw SafeTensorsError.malformedHeader(file: path, key: nil, reason: Self.describe(error))
        } catch {
            throw SafeTensorsError.malformedHeader(file: path, key: nil, reason: "\(error)")
        }
        metadata = raw.metadata
        tensors = try Self.check(raw.entries, path: path, dataStart: dataStart, fileSize: fileSize)
    }

    /// Checks dtypes, sizes, overlaps and bounds; returns the tensors with absolute byte ranges.
    private static func check(
        _ entries: [RawEntry], path: String, dataStart: Int, fileSize: Int
    ) throws -> [String: TensorInfo] {
        let dataSize = fileSize - dataStart
        var relative: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        relative.reserveCapacity(entries.count)
        for entry in entries {
            guard let dtype = DType(rawValue: entry.dtype) else {
                throw SafeTensorsError.unknownDType(file: path, key: entry.name, dtype: entry.dtype)
            }
            let begin = entry.offsets[0], end = entry.offsets[1]
            guard begin >= 0, end >= begin else {
                throw SafeTensorsError.offsetsOutOfRange(
                    file: path, key: entry.name, begin: begin, end: end, dataSize: dataSize)
            }
            var elements = 1
            for dim in entry.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else {
                    throw SafeTensorsError.malformedHeader(
                        file: path, key: entry.name, reason: "shape \(entry.shape) is too large")
                }
                elements = product
            }
            guard let expected = dtype.byteCount(elements: elements) else {
                throw SafeTensorsError.malformedHeader(
                    file: path, key: entry.name,
                    reason: "shape \(entry.shape) of \(dtype.rawValue) is not a whole number of bytes")
            }
            guard end - begin == expected else {
                throw SafeTensorsError.sizeMismatch(
                    file: path, key: entry.name, shape: entry.shape, dtype: dtype,
                    expectedBytes: expected, actualBytes: end - begin)
            }
            relative.append((entry.name, dtype, entry.shape, begin, end))
        }
        relative.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }

        // Overlaps: empty tensors occupy no bytes, so they never overlap anything.
        var furthest: (name: String, end: Int)? = nil
        var contiguous = true
        var cursor = 0
        for t in relative {
            if t.begin != cursor { contiguous = false }
            cursor = max(cursor, t.end)
            guard t.end > t.begin else { continue }
            if let f = furthest, t.begin < f.end {
                throw SafeTensorsError.overlappingTensors(file: path, key: t.name, otherKey: f.name)
            }
            if t.end > (furthest?.end ?? 0) { furthest = (t.name, t.end) }
        }

        // Bounds. Tensors laid end to end from 0 that run past the end of the file mean the file was cut
        // short (a partial download); offsets that jump past the end otherwise mean a bad header.
        if let first = relative.first(where: { $0.end > dataSize }) {
            if contiguous {
                throw SafeTensorsError.truncated(
                    file: path, key: first.name, expectedFileSize: dataStart + cursor, actualFileSize: fileSize)
            }
            throw SafeTensorsError.offsetsOutOfRange(
                file: path, key: first.name, begin: first.begin, end: first.end, dataSize: dataSize)
        }

        var result: [String: TensorInfo] = [:]
        result.reserveCapacity(relative.count)
        for t in relative {
            result[t.name] = TensorInfo(
                name: t.name, dtype: t.dtype, shape: t.shape, byteRange: (dataStart + t.begin)..<(dataStart + t.end))
        }
        return result
    }

    /// A short reason for a JSON decoding failure (the full DecodingError dump is unreadable).
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case let .dataCorrupted(context):
            return "not valid JSON\(path(context)) (\(context.debugDescription))"
        case let .typeMismatch(type, context):
            return "expected \(type)\(path(context))"
        case let .valueNotFound(type, context):
            return "missing \(type)\(path(context))"
        case let .keyNotFound(key, context):
            return "missing key \"\(key.stringValue)\"\(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A header entry as written, before any checking beyond JSON types.
struct RawEntry {
    let name: String
    let dtype: String
    let shape: [Int]
    let offsets: [Int]
}

/// A problem with one header entry, thrown from inside decoding so that the key can be named.
struct EntryError: Error {
    let key: String
    let reason: String
}

/// Any string as a JSON object key.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// The header's JSON object: tensor entries plus the optional `__metadata__`.
private struct RawHeader: Decodable {
    var entries: [RawEntry] = []
    var metadata: [String: String] = [:]

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            let name = key.stringValue
            if name == "__metadata__" {
                do {
                    metadata = try container.decode([String: String].self, forKey: key)
                } catch let error as DecodingError {
                    throw EntryError(key: name, reason: "__metadata__ must map strings to strings (\(SafeTensorsHeader.describe(error)))")
                }
                continue
            }
            let entry: KeyedDecodingContainer<AnyKey>
            let dtype: String
            let shape: [Int]
            let offsets: [Int]
            do {
                entry = try container.nestedContainer(keyedBy: AnyKey.self, forKey: key)
                dtype = try entry.decode(String.self, forKey: AnyKey("dtype"))
                shape = try entry.decode([Int].self, forKey: AnyKey("shape"))
                offsets = try entry.decode([Int].self, forKey: AnyKey("data_offsets"))
            } catch let error as DecodingError {
                throw EntryError(key: name, reason: SafeTensorsHeader.describe(error))
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw EntryError(key: name, reason: "shape \(shape) has a negative dimension")
            }
            guard offsets.count == 2 else {
                throw EntryError(key: name, reason: "data_offsets must be [begin, end], got \(offsets)")
            }
            entries.append(RawEntry(name: name, dtype: dtype, shape: shape, offsets: offsets))
        }
    }
}
