import Foundation

/// One safetensors file, memory-mapped read-only; its header parsed and checked on open.
///
/// Opening maps the file without reading the tensor data; F32 tensors are then read in place.
/// The data is little-endian, as is every host this runs on (x86_64, arm64), so F32 needs no swap.
/// Every check of the header (lengths, JSON, dtypes, offsets, overlaps, truncation) happens in
/// `open`, so a file that opens is one whose every tensor can be read.
public final class SafeTensorsFile: TensorSource, @unchecked Sendable {
    /// Where the file is.
    public let url: URL
    /// The header's `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// Every tensor's key, sorted.
    public let tensorNames: [String]
    /// Where the data section starts: 8 + the header length.
    public let dataStart: Int
    private let tensors: [String: TensorInfo]
    private let mapping: MappedFile

    private init(url: URL, mapping: MappedFile, header: SafeTensorsHeader) {
        self.url = url
        self.mapping = mapping
        self.tensors = header.tensors
        self.metadata = header.metadata
        self.dataStart = header.dataStart
        self.tensorNames = header.tensors.keys.sorted()
    }

    /// Maps and checks the file at `url`; throws `SafeTensorsError` naming the file (and key) at fault.
    public static func open(_ url: URL) throws -> SafeTensorsFile {
        let mapping = try MappedFile(path: url.path)
        let header = try SafeTensorsHeader(bytes: mapping.region, path: url.path)
        return SafeTensorsFile(url: url, mapping: mapping, header: header)
    }

    /// The whole file as mapped (valid while this object lives); F32 zero-copy views point inside it.
    public var mappedRegion: UnsafeRawBufferPointer { mapping.region }

    /// The file's size in bytes.
    public var fileSize: Int { mapping.region.count }

    /// What the header says about `name`, or nil when there is no such tensor.
    public func info(_ name: String) -> TensorInfo? { tensors[name] }

    /// The file's path, whatever the key (every tensor of a single file is in it).
    public func filePath(for name: String) -> String { url.path }

    /// `name`'s raw bytes, as stored (little-endian), valid while this object lives.
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let info = tensors[name] else { throw SafeTensorsError.tensorNotFound(file: url.path, key: name) }
        return UnsafeRawBufferPointer(rebasing: mapping.region[info.byteRange])
    }

    /// `name`'s values as float32: a view into the mapping when stored as 4-byte aligned F32,
    /// otherwise a converted copy (F16 and BF16 convert exactly; unaligned F32 is copied).
    public func floats(_ name: String) throws -> FloatTensor {
        guard let info = tensors[name] else { throw SafeTensorsError.tensorNotFound(file: url.path, key: name) }
        let count = info.elementCount
        let raw = UnsafeRawBufferPointer(rebasing: mapping.region[info.byteRange])

        if info.dtype == .f32, let base = raw.baseAddress,
           Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
            return FloatTensor(
                name: name, shape: info.shape, storedDType: .f32, isZeroCopy: true,
                pointer: base.assumingMemoryBound(to: Float.self), count: count, owner: mapping)
        }

        let out = FloatBuffer(count: count)
        switch info.dtype {
        case .f32:
            // Misaligned (or empty): copy bytes rather than load floats from an unaligned address.
            if let source = raw.baseAddress, raw.count > 0 {
                UnsafeMutableRawPointer(out.pointer).copyMemory(from: source, byteCount: raw.count)
            }
        case .f16:
            for i in 0..<count {
                out.pointer[i] = FloatConversion.float(fromHalfBits: Self.loadUInt16(raw, i))
            }
        case .bf16:
            for i in 0..<count {
                out.pointer[i] = FloatConversion.float(fromBFloat16Bits: Self.loadUInt16(raw, i))
            }
        default:
            throw SafeTensorsError.unsupportedDType(file: url.path, key: name, dtype: info.dtype)
        }
        return FloatTensor(
            name: name, shape: info.shape, storedDType: info.dtype, isZeroCopy: false,
            pointer: UnsafePointer(out.pointer), count: count, owner: out)
    }

    /// Little-endian u16 number `i` of `raw`, whatever its alignment.
    @inline(__always)
    private static func loadUInt16(_ raw: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
    }
}
