import Glibc

/// Page-aligned anonymous memory, in 2 MB transparent huge pages when it is that large and the
/// kernel allows it; zero-filled; unmapped on deinit.
public final class AlignedMemory: @unchecked Sendable {
    /// The first byte (64-byte aligned at least).
    public let base: UnsafeMutableRawPointer
    /// Usable bytes from `base`.
    public let count: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappedBytes: Int

    private static let hugePage = 2 << 20

    /// `bytes` of zeroed memory.
    public init(bytes: Int) {
        let wanted = max(1, bytes)
        let huge = wanted >= Self.hugePage
        // Over-ask by one huge page so that the start can be moved to a 2 MB boundary, which the
        // kernel needs before it backs a range with huge pages.
        let length = huge ? (wanted + 2 * Self.hugePage - 1) / Self.hugePage * Self.hugePage : wanted
        let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            // Out of address space at load: nothing sensible is left to do.
            fatalError("LMKernels: cannot map \(length) bytes")
        }
        mapping = raw
        mappedBytes = length
        count = wanted
        if huge {
            let aligned = (Int(bitPattern: raw) + Self.hugePage - 1) & ~(Self.hugePage - 1)
            base = UnsafeMutableRawPointer(bitPattern: aligned)!
            // Advice only: without transparent huge pages this fails and 4 KB pages serve.
            _ = madvise(base, (wanted + Self.hugePage - 1) / Self.hugePage * Self.hugePage, MADV_HUGEPAGE)
        } else {
            base = raw
        }
    }

    deinit { munmap(mapping, mappedBytes) }
}
