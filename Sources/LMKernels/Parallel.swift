/// Splits a kernel's work into contiguous pieces and runs them on the shared `WorkerPool`.
///
/// Pieces are always cut on fixed unit boundaries (whole column panels, rows or heads), and every
/// output element is computed by the same sequence of operations whichever piece it lands in, so a
/// kernel's result does not depend on the number of threads.
enum Parallel {
    /// Calls `body(lower, upper)` for `pieces` contiguous, near-equal slices of `0 ..< units`, on at
    /// most `threads` threads (more pieces than threads are taken by whichever thread comes free).
    ///
    /// Slices are whole units; with one piece (or one thread) everything runs on the caller's thread.
    @inline(__always)
    static func split(units: Int, pieces: Int, threads: Int, _ body: (_ lower: Int, _ upper: Int) -> Void) {
        let n = max(1, min(pieces, units))
        if n == 1 || threads <= 1 {
            for piece in 0..<n where units > 0 { body(units * piece / n, units * (piece + 1) / n) }
            return
        }
        WorkerPool.shared.run(pieces: n, threads: threads) { piece in
            body(units * piece / n, units * (piece + 1) / n)
        }
    }

    /// Calls `body(j0, j1)` for `pieces` contiguous slices of columns `0 ..< n` of the row at `y` (on at
    /// most `threads` threads),
    /// cut where `y + j` starts a 64-byte cache line, so that two threads updating neighbouring
    /// slices over and over never write to the same line.
    @inline(__always)
    static func splitColumns(
        n: Int, pieces: Int, threads: Int, of y: UnsafeMutablePointer<Float>, _ body: (_ j0: Int, _ j1: Int) -> Void
    ) {
        let lineFloats = 16
        let units = (n + lineFloats - 1) / lineFloats
        let count = max(1, min(pieces, units))
        if count == 1 {
            body(0, n)
            return
        }
        // Columns before y's first line boundary go to the first slice.
        let shift = ((64 - Int(bitPattern: y) & 63) & 63) / MemoryLayout<Float>.stride
        func boundary(_ piece: Int) -> Int {
            if piece == 0 { return 0 }
            if piece == count { return n }
            return min(n, shift + units * piece / count * lineFloats)
        }
        WorkerPool.shared.run(pieces: count, threads: threads) { piece in
            let j0 = boundary(piece), j1 = boundary(piece + 1)
            if j1 > j0 { body(j0, j1) }
        }
    }

    /// How many pieces to cut `work` (in multiply-adds or comparable steps) into: one per thread,
    /// but a single piece when the work is too small to be worth waking another thread for.
    @inline(__always)
    static func pieces(threads: Int, work: Int, minimumPerThread: Int) -> Int {
        guard threads > 1 else { return 1 }
        return max(1, min(threads, work / minimumPerThread))
    }
}
