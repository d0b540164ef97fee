import Dispatch

/// Splits a kernel's work into contiguous pieces and runs them on up to `threads` threads.
///
/// Pieces are always cut on fixed unit boundaries (whole column panels, rows or heads), and every
/// output element is computed by the same sequence of operations whichever piece it lands in, so a
/// kernel's result does not depend on the number of threads.
enum Parallel {
    /// Calls `body(lower, upper)` for `pieces` contiguous, near-equal slices of `0 ..< units`.
    ///
    /// Slices are whole units; with one piece (or one thread) everything runs on the caller's thread.
    @inline(__always)
    static func split(units: Int, pieces: Int, _ body: (_ lower: Int, _ upper: Int) -> Void) {
        let n = max(1, min(pieces, units))
        if n == 1 {
            if units > 0 { body(0, units) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: n) { piece in
            body(units * piece / n, units * (piece + 1) / n)
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
