#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A GGUF file (llama.cpp's format, versions 2 and 3), memory-mapped and checked on open.
///
/// Opening parses the header, every metadata entry and every tensor info, and checks that each
/// tensor's data lies within the file, aligned and without overlap; tensor data is only touched when
/// read. F32 tensors are read in place (no copy); F16, BF16 and Q8_0 are converted to float32.
public final class GGUFFile: @unchecked Sendable {
    /// Where the file is.
    public let url: URL
    /// The format version (2 or 3).
    public let version: UInt32
    /// The key/value metadata.
    public let metadata: GGUFMetadata
    /// The data alignment (`general.alignment`, 32 when absent).
    public let alignment: Int
    /// The tensors, in the order the file lists them.
    public let tensors: [GGUFTensorInfo]
    /// Where the data section starts (tensor offsets are relative to it).
    public let dataStart: Int

    private let mapping: GGUFMapping
    private let tensorIndex: [String: Int]

    /// The file's path, as errors name it.
    public var path: String { url.path }

    /// The file's size in bytes.
    public var fileSize: Int { mapping.region.count }

    private init(url: URL, mapping: GGUFMapping, result: GGUFParser.Result) {
        self.url = url
        self.mapping = mapping
        self.version = result.version
        self.metadata = result.metadata
        self.alignment = result.alignment
        self.tensors = result.tensors
        self.dataStart = result.dataStart
        var index: [String: Int] = [:]
        for (i, tensor) in result.tensors.enumerated() { index[tensor.name] = i }
        self.tensorIndex = index
    }

    /// Maps and checks the file at `url`; throws `GGUFError`.
    public static func open(_ url: URL) throws -> GGUFFile {
        let mapping = try GGUFMapping(path: url.path)
        var parser = GGUFParser(region: mapping.region, file: url.path)
        return GGUFFile(url: url, mapping: mapping, result: try parser.parse())
    }

    /// What the file says about `name`, or nil when there is no such tensor.
    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The names of all tensors, in file order.
    public var tensorNames: [String] { tensors.map(\.name) }

    /// The stored bytes of `name` (valid while this file lives); throws `tensorNotFound`.
    public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try require(name)
        return UnsafeRawBufferPointer(rebasing: mapping.region[info.byteRange])
    }

    /// `name`'s values as float32: F32 in place when 4-byte aligned, F16 / BF16 / Q8_0 converted.
    /// Throws `tensorNotFound` or `unsupportedTensorType`.
    public func floats(_ name: String) throws -> GGUFFloatTensor {
        let info = try require(name)
        guard info.type.isReadableAsFloat else {
            throw GGUFError.unsupportedTensorType(file: path, tensor: name, type: info.type.name)
        }
        let count = info.elementCount
        let source = mapping.region.baseAddress.map { $0 + info.byteRange.lowerBound }
        if info.type == .f32, let source, Int(bitPattern: source) % MemoryLayout<Float>.alignment == 0 {
            return GGUFFloatTensor(name: name, dimensions: info.dimensions, storedType: info.type, isZeroCopy: true,
                                   pointer: source.assumingMemoryBound(to: Float.self), count: count, storage: mapping)
        }
        let buffer = GGUFFloatBuffer(count: count)
        if let source {
            GGUFDequantize.convert(info.type, from: source, count: count, into: buffer.pointer)
        }
        return GGUFFloatTensor(name: name, dimensions: info.dimensions, storedType: info.type, isZeroCopy: false,
                               pointer: UnsafePointer(buffer.pointer), count: count, storage: buffer)
    }

    /// Tells the kernel this process no longer needs the mapped pages that lie wholly inside `name`'s
    /// data (after converting or copying it), so that they stop counting towards its resident memory.
    /// Harmless if they are read again: a read-only private mapping refaults them from the file.
    public func releasePages(of name: String) {
        guard let info = tensor(name), let base = mapping.region.baseAddress else { return }
        let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE))))
        let start = (info.byteRange.lowerBound + page - 1) / page * page
        let end = info.byteRange.upperBound / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    private func require(_ name: String) throws -> GGUFTensorInfo {
        guard let info = tensor(name) else { throw GGUFError.tensorNotFound(file: path, tensor: name) }
        return info
    }
}
