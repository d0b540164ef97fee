/// A float32 weight matrix [K, N] (Conv1D layout, y = x·w) re-laid for the matrix products as column
/// panels: panel p holds columns 16p ..< 16p+16 of every row, row after row, so the whole matrix is
/// [⌈N/16⌉, K, 16] and the last panel's missing columns are zero. The values are copied unchanged.
///
/// Why: a decode product (one row of x) reads every weight once, so its speed is memory bandwidth.
/// Row-major, the columns a thread owns are short runs, one per row, that the hardware prefetchers
/// keep losing; in panels a thread's share is one ascending run of memory. And the prefill kernel's
/// 6×16 tiles read exactly this layout, so it no longer packs the weights on every call.
/// The memory is asked for in 2 MB pages where the system allows, which saves TLB misses on the stream.
public final class PackedMatrix: @unchecked Sendable {
    /// Columns per panel.
    public static let panelWidth = 16
    /// Rows (K).
    public let rows: Int
    /// Columns (N).
    public let columns: Int
    /// ⌈columns / 16⌉.
    public let panels: Int
    /// The first value of panel 0.
    let base: UnsafeMutablePointer<Float>
    private let memory: AlignedMemory

    /// Copies `source[rows, columns]` (row-major) into panels.
    public init(packing source: UnsafePointer<Float>, rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "PackedMatrix: negative shape \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        panels = (columns + Self.panelWidth - 1) / Self.panelWidth
        memory = AlignedMemory(bytes: max(1, panels * rows * Self.panelWidth) * MemoryLayout<Float>.stride)
        base = memory.base.bindMemory(to: Float.self, capacity: max(1, panels * rows * Self.panelWidth))
        let width = Self.panelWidth, full = columns / width, rest = columns - full * width
        // Row by row through the source, so its pages are read once, in order.
        for r in 0..<rows {
            let s = source + r * columns
            for p in 0..<full {
                let v = UnsafeRawPointer(s + p * width).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(base + (p * rows + r) * width).storeBytes(of: v, as: SIMD16<Float>.self)
            }
            if rest > 0 {
                let d = base + (full * rows + r) * width
                d.update(from: s + full * width, count: rest)
                (d + rest).update(repeating: 0, count: width - rest)
            }
        }
    }

    /// Packs the transpose of `source[sourceRows, sourceColumns]` (row-major): the result is
    /// [sourceColumns, sourceRows], so that x·wᵀ (the head's product) becomes `matmul(_:_:packed:…)`.
    public init(packingTransposeOf source: UnsafePointer<Float>, rows sourceRows: Int, columns sourceColumns: Int) {
        precondition(sourceRows >= 0 && sourceColumns >= 0, "PackedMatrix: negative shape \(sourceRows)×\(sourceColumns)")
        rows = sourceColumns
        columns = sourceRows
        panels = (columns + Self.panelWidth - 1) / Self.panelWidth
        let count = max(1, panels * rows * Self.panelWidth)
        memory = AlignedMemory(bytes: count * MemoryLayout<Float>.stride)
        base = memory.base.bindMemory(to: Float.self, capacity: count)
        // Source rows in order (each is one column of the result); a panel (48 KB at K = 768) stays in
        // cache while its 16 source rows are spread into it.
        for v in 0..<sourceRows {
            let s = source + v * sourceColumns
            let d = base + (v / Self.panelWidth) * rows * Self.panelWidth + v % Self.panelWidth
            for c in 0..<sourceColumns { d[c * Self.panelWidth] = s[c] }
        }
    }

    /// Column `column` of the matrix (K values, one from each row) into out[K].
    public func copyColumn(_ column: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(column >= 0 && column < columns, "PackedMatrix: column \(column) outside 0..<\(columns)")
        let p = base + (column / Self.panelWidth) * rows * Self.panelWidth + column % Self.panelWidth
        for r in 0..<rows { out[r] = p[r * Self.panelWidth] }
    }

    /// Panel p: `rows` steps of 16 floats.
    @inline(__always)
    func panel(_ p: Int) -> UnsafePointer<Float> { UnsafePointer(base + p &* rows &* Self.panelWidth) }

    /// The weight at (row, column).
    public func value(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "PackedMatrix: (\(row), \(column)) outside \(rows)×\(columns)")
        return base[((column / Self.panelWidth) * rows + row) * Self.panelWidth + column % Self.panelWidth]
    }

    /// out[rows, columns] = the matrix, row-major again.
    public func unpack(into out: UnsafeMutablePointer<Float>) {
        let width = Self.panelWidth
        for r in 0..<rows {
            for p in 0..<panels {
                let count = min(width, columns - p * width)
                (out + r * columns + p * width).update(from: base + (p * rows + r) * width, count: count)
            }
        }
    }

    /// Bytes the panels take.
    public var byteCount: Int { panels * rows * Self.panelWidth * MemoryLayout<Float>.stride }
}
