#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only and private into memory; unmapped when the last reference goes.
///
/// Float views of F32 tensors (`GGUFFloatTensor`) hold a reference to this, so the mapping outlives the
/// `GGUFFile` that made it for as long as any view of it is in use.
final class GGUFMapping: @unchecked Sendable {
    /// The mapped bytes (the whole file); never written to.
    let region: UnsafeRawBufferPointer

    /// Maps the file at `path`; throws `GGUFError.cannotOpen`. An empty file maps to an empty region
    /// (mmap refuses zero lengths).
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw GGUFError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw GGUFError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.cannotOpen(file: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            region = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // MAP_PRIVATE + PROT_READ: pages come from the page cache on demand and are shared with every
        // other process mapping the same file; nothing is read up front.
        let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let base, base != MAP_FAILED else {
            throw GGUFError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        region = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = region.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), region.count)
        }
    }
}
