/// Reads little-endian values from the mapped file front to back, never past its end: every read
/// first checks that the bytes are there and otherwise throws `GGUFError.truncated` naming what was
/// being read.
struct GGUFCursor {
    let region: UnsafeRawBufferPointer
    let file: String
    private(set) var offset = 0

    init(region: UnsafeRawBufferPointer, file: String) {
        self.region = region
        self.file = file
    }

    /// Bytes left after the cursor.
    var remaining: Int { region.count - offset }

    /// Throws unless `count` more bytes are there; `what` is only formatted on failure.
    func need(_ count: UInt64, _ what: @autoclosure () -> String) throws {
        guard count <= UInt64(remaining) else {
            let (end, overflow) = offset.addingReportingOverflow(Int(clamping: count))
            throw GGUFError.truncated(file: file, what: what(), neededBytes: overflow ? Int.max : end, fileSize: region.count)
        }
    }

    /// The next fixed-width integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(UInt64(MemoryLayout<T>.size), what())
        let value = region.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    /// The next GGUF string's bytes (a uint64 length, then the bytes), as a view into the mapping.
    mutating func readStringBytes(_ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let length = try read(UInt64.self, what())
        try need(length, what())
        let bytes = UnsafeRawBufferPointer(rebasing: region[offset..<(offset + Int(length))])
        offset += Int(length)
        return bytes
    }

    /// The cursor's offset rounded up to a multiple of `alignment` (a power of two).
    func alignedOffset(_ alignment: Int) -> Int {
        (offset + alignment - 1) & ~(alignment - 1)
    }

    /// The bytes as a Swift string, or nil when they are not valid UTF-8.
    static func utf8(_ bytes: UnsafeRawBufferPointer) -> String? {
        String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
    }
}
