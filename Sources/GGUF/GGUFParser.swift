/// Parses and checks a mapped GGUF file (versions 2 and 3, little-endian): header, metadata, tensor
/// infos, and the placement of every tensor's data. Nothing of the data itself is read.
///
/// Layout: "GGUF", uint32 version, uint64 tensor count, uint64 metadata count, the metadata entries
/// (string key, uint32 type, value), the tensor infos (string name, uint32 n_dims, n_dims × uint64 ne,
/// uint32 ggml type, uint64 offset), padding to `general.alignment` (default 32), then the data section;
/// each tensor's offset is relative to the data section and a multiple of the alignment.
struct GGUFParser {
    /// What a parse yields.
    struct Result {
        var version: UInt32
        var metadata: GGUFMetadata
        var alignment: Int
        var tensors: [GGUFTensorInfo]
        var dataStart: Int
    }

    /// The alignment when `general.alignment` is absent.
    static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    static let maxDimensions = 4
    /// Arrays nested deeper than this are refused rather than followed (no valid file needs it).
    static let maxArrayDepth = 8

    private var cursor: GGUFCursor
    private var file: String { cursor.file }

    init(region: UnsafeRawBufferPointer, file: String) {
        cursor = GGUFCursor(region: region, file: file)
    }

    mutating func parse() throws -> Result {
        let magic = Array(cursor.region.prefix(4))
        guard magic == Array("GGUF".utf8) else { throw GGUFError.badMagic(file: file, found: magic) }
        _ = try cursor.read(UInt32.self, "the magic")
        let version = try cursor.read(UInt32.self, "the header's version")
        switch version {
        case 2, 3: break
        case 1: throw GGUFError.unsupportedVersion(file: file, version: 1, reason: "version 1 predates 64-bit counts; this reader reads versions 2 and 3")
        default:
            // A big-endian file's version reads byte-swapped here (3 becomes 0x03000000).
            let swapped = version.byteSwapped
            let reason = swapped == 2 || swapped == 3
                ? "it looks like a big-endian GGUF file (version \(swapped)); only little-endian files are supported"
                : "this reader reads versions 2 and 3"
            throw GGUFError.unsupportedVersion(file: file, version: version, reason: reason)
        }
        let tensorCount = try cursor.read(UInt64.self, "the header's tensor count")
        let metadataCount = try cursor.read(UInt64.self, "the header's metadata count")

        // Every entry takes at least 12 bytes (an empty key and a type): a count that cannot fit is a
        // truncated or damaged file, and must not become a huge allocation.
        try cursor.need(metadataCount.multipliedReportingOverflow(by: 12).overflow ? .max : metadataCount * 12,
                        "\(metadataCount) metadata entries")
        var entries: [(String, GGUFValue)] = []
        entries.reserveCapacity(Int(metadataCount))
        var seenKeys = Set<String>()
        for index in 0..<Int(metadataCount) {
            let keyBytes = try cursor.readStringBytes("the key of metadata entry \(index)")
            guard let key = GGUFCursor.utf8(keyBytes) else {
                throw GGUFError.malformedMetadata(file: file, key: nil, reason: "the key of entry \(index) is not valid UTF-8")
            }
            guard seenKeys.insert(key).inserted else {
                throw GGUFError.malformedMetadata(file: file, key: key, reason: "the key appears twice")
            }
            let value = try readValue(key: key, depth: 0)
            entries.append((key, value))
        }
        let metadata = GGUFMetadata(file: file, entries: entries)
        let alignment = try Self.alignment(metadata)

        // Every tensor info takes at least 24 bytes (empty name, no dimensions, type, offset).
        try cursor.need(tensorCount.multipliedReportingOverflow(by: 24).overflow ? .max : tensorCount * 24,
                        "\(tensorCount) tensor infos")
        var raw: [(name: String, dimensions: [Int], type: GGUFTensorType, offset: UInt64, bytes: Int)] = []
        raw.reserveCapacity(Int(tensorCount))
        var seenNames = Set<String>()
        for index in 0..<Int(tensorCount) {
            let info = try readTensorInfo(index: index)
            guard seenNames.insert(info.name).inserted else {
                throw GGUFError.malformedTensorInfo(file: file, tensor: info.name, reason: "the name appears twice")
            }
            raw.append(info)
        }

        let dataStart = cursor.alignedOffset(alignment)
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raw.count)
        for t in raw {
            guard t.offset % UInt64(alignment) == 0 else {
                throw GGUFError.offsetOutOfRange(file: file, tensor: t.name, offset: t.offset,
                                                 reason: "it is not a multiple of the alignment \(alignment)")
            }
            let room = Int.max - dataStart  // the largest end any file could have, past the data start
            guard t.bytes <= room, t.offset <= UInt64(room - t.bytes) else {
                throw GGUFError.offsetOutOfRange(file: file, tensor: t.name, offset: t.offset,
                                                 reason: "its \(t.bytes) bytes would end beyond any possible file")
            }
            let start = dataStart + Int(t.offset)
            tensors.append(GGUFTensorInfo(name: t.name, dimensions: t.dimensions, type: t.type,
                                          relativeOffset: t.offset, byteRange: start..<(start + t.bytes)))
        }
        try checkPlacement(tensors)
        return Result(version: version, metadata: metadata, alignment: alignment, tensors: tensors, dataStart: dataStart)
    }

    /// `general.alignment`: a UINT32 power of two, 32 when absent.
    private static func alignment(_ metadata: GGUFMetadata) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard case let .uint32(n) = value else {
            throw metadata.malformed("general.alignment", "it is \(value.type), expected UINT32")
        }
        guard n > 0, n & (n - 1) == 0, n <= 1 << 20 else {
            throw metadata.malformed("general.alignment", "\(n) is not a power of two up to 2^20")
        }
        return Int(n)
    }

    /// Tensors may not overlap, and every one must lie within the file. A cut-off tensor is reported as
    /// truncation (the usual cause: an interrupted download), naming the first one cut off.
    private func checkPlacement(_ tensors: [GGUFTensorInfo]) throws {
        let ordered = tensors.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw GGUFError.offsetOutOfRange(file: file, tensor: next.name, offset: next.relativeOffset,
                                             reason: "its data overlaps that of tensor \"\(previous.name)\"")
        }
        if let cut = ordered.first(where: { $0.byteRange.upperBound > cursor.region.count }) {
            throw GGUFError.truncated(file: file, what: "the data of tensor \"\(cut.name)\"",
                                      neededBytes: cut.byteRange.upperBound, fileSize: cursor.region.count)
        }
    }

    private mutating func readTensorInfo(index: Int) throws -> (name: String, dimensions: [Int], type: GGUFTensorType, offset: UInt64, bytes: Int) {
        let nameBytes = try cursor.readStringBytes("the name of tensor \(index)")
        guard let name = GGUFCursor.utf8(nameBytes) else {
            throw GGUFError.malformedTensorInfo(file: file, tensor: "#\(index)", reason: "its name is not valid UTF-8")
        }
        func malformed(_ reason: String) -> GGUFError { .malformedTensorInfo(file: file, tensor: name, reason: reason) }
        func what() -> String { "the description of tensor \"\(name)\"" }
        let nDims = try cursor.read(UInt32.self, what())
        guard nDims <= Self.maxDimensions else {
            throw malformed("it has \(nDims) dimensions; ggml allows at most \(Self.maxDimensions)")
        }
        var dimensions: [Int] = []
        var elements = 1
        for _ in 0..<nDims {
            let ne = try cursor.read(UInt64.self, what())
            guard ne <= UInt64(Int64.max) else { throw malformed("dimension \(ne) is out of range") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(ne))
            guard !overflow else { throw malformed("its dimensions \(dimensions + [Int(ne)]) overflow") }
            dimensions.append(Int(ne))
            elements = product
        }
        let type = GGUFTensorType(rawValue: try cursor.read(UInt32.self, what()))
        let offset = try cursor.read(UInt64.self, what())
        guard let blockSize = type.blockSize, let blockBytes = type.blockBytes else {
            throw GGUFError.unsupportedTensorType(file: file, tensor: name, type: "\(type.name) (unknown to this reader)")
        }
        let rowLength = dimensions.first ?? 1
        guard rowLength % blockSize == 0 else {
            throw malformed("its row length \(rowLength) is not a multiple of \(type.name)'s block size \(blockSize)")
        }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: blockBytes)
        guard !overflow else { throw malformed("its size in bytes overflows") }
        return (name, dimensions, type, offset, bytes)
    }

    private mutating func readValue(key: String, depth: Int) throws -> GGUFValue {
        let raw = try cursor.read(UInt32.self, "the type of metadata \"\(key)\"")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError.malformedMetadata(file: file, key: key, reason: "its value type \(raw) is not a GGUF type")
        }
        return try readValue(of: type, key: key, depth: depth)
    }

    private mutating func readValue(of type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        // Messages are autoclosures: formatted only on failure, not once per element of a long array.
        func what() -> String { "the value of metadata \"\(key)\"" }
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, what()))
        case .int8: return .int8(try cursor.read(Int8.self, what()))
        case .uint16: return .uint16(try cursor.read(UInt16.self, what()))
        case .int16: return .int16(try cursor.read(Int16.self, what()))
        case .uint32: return .uint32(try cursor.read(UInt32.self, what()))
        case .int32: return .int32(try cursor.read(Int32.self, what()))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, what())))
        case .uint64: return .uint64(try cursor.read(UInt64.self, what()))
        case .int64: return .int64(try cursor.read(Int64.self, what()))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, what())))
        case .bool:
            let byte = try cursor.read(UInt8.self, what())
            guard byte <= 1 else {
                throw GGUFError.malformedMetadata(file: file, key: key, reason: "a BOOL is \(byte), not 0 or 1")
            }
            return .bool(byte == 1)
        case .string:
            return .string(try readString(key: key, what: what()))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw GGUFError.malformedMetadata(file: file, key: key, reason: "arrays are nested more than \(Self.maxArrayDepth) deep")
            }
            let rawElement = try cursor.read(UInt32.self, what())
            guard let element = GGUFValueType(rawValue: rawElement) else {
                throw GGUFError.malformedMetadata(file: file, key: key, reason: "its array element type \(rawElement) is not a GGUF type")
            }
            let count = try cursor.read(UInt64.self, what())
            // Checked before reserving: a damaged count must be an error, not a huge allocation.
            let minimum = UInt64(element.fixedSize ?? (element == .string ? 8 : 12))
            let (bytes, overflow) = count.multipliedReportingOverflow(by: minimum)
            try cursor.need(overflow ? .max : bytes, "the \(count) \(element) elements of metadata \"\(key)\"")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for index in 0..<Int(count) {
                if element == .string {
                    elements.append(.string(try readString(key: key, what: what(), index: index)))
                } else {
                    elements.append(try readValue(of: element, key: key, depth: depth + 1))
                }
            }
            return .array(element, elements)
        }
    }

    private mutating func readString(key: String, what: @autoclosure () -> String, index: Int? = nil) throws -> String {
        let bytes = try cursor.readStringBytes(what())
        guard let s = GGUFCursor.utf8(bytes) else {
            let which = index.map { "element \($0)" } ?? "the string"
            throw GGUFError.malformedMetadata(file: file, key: key, reason: "\(which) is not valid UTF-8")
        }
        return s
    }
}
