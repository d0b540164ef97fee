import Dispatch
import Foundation
import Glibc
import Synchronization

/// Long-lived worker threads that run the pieces of one kernel call next to the calling thread.
///
/// `DispatchQueue.concurrentPerform` costs some 13 µs per call (and a thread wake-up when its
/// workers have gone idle); a decode step makes ~50 split calls, so that is most of a millisecond
/// per token. Here the threads are created once, spin briefly on an atomic ticket after each job
/// (kernel calls of one forward pass follow each other within microseconds), then sleep on a
/// condition variable. Pieces are claimed dynamically, so when a worker is slow to wake — the
/// machine is shared — the caller runs its piece itself instead of waiting for it.
///
/// One job runs at a time: a caller that finds the pool busy (another thread's kernel, or a kernel
/// called from inside a piece) falls back to `concurrentPerform`. Which thread runs a piece never
/// changes what the piece computes, so results stay the same bits.
final class WorkerPool: @unchecked Sendable {
    /// The pool all `Kernels` share; workers are added on first use, up to the threads asked for.
    static let shared = WorkerPool()

    /// How long an idle worker polls for the next job before sleeping.
    private static let spinNanoseconds: UInt64 = 20_000

    /// The current job in one word: generation (high bits) and the next unclaimed piece (low
    /// `pieceBits` bits). Claiming a piece is one compare-and-swap that fails once the job changed.
    private let ticket = Atomic<Int>(0)
    private static let pieceBits = 16
    private static let pieceMask = (1 << pieceBits) - 1
    /// Pieces of the current job, and the address of its `Job` (valid while the job runs).
    private let jobPieces = Atomic<Int>(0)
    private let jobAddress = Atomic<Int>(0)
    /// Pieces of the current job finished so far.
    private let finished = Atomic<Int>(0)
    /// Workers asleep (or about to be) on `condition`.
    private let sleepers = Atomic<Int>(0)
    /// Held by the thread whose job is running.
    private let busy = Atomic<Bool>(false)

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Worker threads started (guarded by `mutex`).
    private var workers = 0

    /// Worker threads started so far.
    var workerCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return workers
    }

    private struct Job {
        let body: (Int) -> Void
    }

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Runs `body(piece)` for every piece in `0 ..< pieces` on the caller and workers — at most
    /// `threads` threads in all, however many pieces — and returns when all are done. (A worker per
    /// piece would put more spinning threads than cores on the machine for a split into more pieces
    /// than threads, and they would take turns on the cores instead of working.)
    func run(pieces: Int, threads: Int, _ body: (Int) -> Void) {
        if pieces <= 1 {
            if pieces == 1 { body(0) }
            return
        }
        guard pieces <= Self.pieceMask,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            DispatchQueue.concurrentPerform(iterations: pieces, execute: body)
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        ensureWorkers(min(pieces, max(1, threads)) - 1)
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body)
            withUnsafeMutablePointer(to: &job) { address in
                finished.store(0, ordering: .relaxed)
                jobPieces.store(pieces, ordering: .relaxed)
                jobAddress.store(Int(bitPattern: address), ordering: .relaxed)
                let generation = (ticket.load(ordering: .relaxed) >> Self.pieceBits) + 1
                ticket.store(generation << Self.pieceBits, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex)
                    pthread_cond_broadcast(condition)
                    pthread_mutex_unlock(mutex)
                }
                work(generation: generation)
                // Pieces claimed by workers may still be running.
                var spins = 0
                while finished.load(ordering: .acquiring) < pieces {
                    spins += 1
                    if spins > 2000 { sched_yield() }
                }
            }
        }
    }

    /// Claims and runs pieces of job `generation` until none are left; returns at once if that job
    /// is already over.
    private func work(generation: Int) {
        while true {
            let current = ticket.load(ordering: .acquiring)
            guard current >> Self.pieceBits == generation else { return }
            let pieces = jobPieces.load(ordering: .relaxed)
            let address = jobAddress.load(ordering: .relaxed)
            let piece = current & Self.pieceMask
            guard piece < pieces else { return }
            // The compare-and-swap succeeds only while this job is still current with this piece
            // unclaimed, so the job (and `pieces`, `address` read above) is still live: the caller
            // does not return before every piece is finished.
            guard ticket.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            let job = UnsafePointer<Job>(bitPattern: address)!
            job.pointee.body(piece)
            finished.add(1, ordering: .releasing)
        }
    }

    private func ensureWorkers(_ count: Int) {
        guard count > 0 else { return }
        pthread_mutex_lock(mutex)
        while workers < count {
            workers += 1
            let thread = Thread { [self] in self.workerLoop() }
            thread.name = "LMKernels worker \(workers)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        pthread_mutex_unlock(mutex)
    }

    private func workerLoop() {
        var seen = ticket.load(ordering: .acquiring) >> Self.pieceBits
        while true {
            var generation = ticket.load(ordering: .acquiring) >> Self.pieceBits
            if generation == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while generation == seen {
                    spins += 1
                    if spins & 255 == 0 {
                        if DispatchTime.now().uptimeNanoseconds &- start > Self.spinNanoseconds { break }
                        // On a busy machine, let whoever is waiting for this core (perhaps the
                        // thread about to hand out the next job) run; on an idle one this returns at once.
                        sched_yield()
                    }
                    generation = ticket.load(ordering: .acquiring) >> Self.pieceBits
                }
            }
            if generation == seen {
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while ticket.load(ordering: .sequentiallyConsistent) >> Self.pieceBits == seen {
                    pthread_cond_wait(condition, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                generation = ticket.load(ordering: .acquiring) >> Self.pieceBits
            }
            seen = generation
            work(generation: generation)
        }
    }
}
