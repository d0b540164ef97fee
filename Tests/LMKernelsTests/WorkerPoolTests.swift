import Foundation
import XCTest
@testable import LMKernels

/// The shared `WorkerPool`: every piece runs exactly once, workers that went to sleep wake for the
/// next job, and calls from several threads at once (or from inside a piece) neither deadlock nor
/// change results.
final class WorkerPoolTests: XCTestCase {
    /// Each piece records how often it ran in its own slot; all must be exactly 1.
    func testEveryPieceRunsExactlyOnce() {
        for round in 0..<2000 {
            // Up to four times as many pieces as threads, as the streaming kernels split.
            let pieces = 2 + round % 7, threads = 2 + round % 2
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: pieces)
            counts.initialize(repeating: 0, count: pieces)
            WorkerPool.shared.run(pieces: pieces, threads: threads) { piece in counts[piece] += 1 }
            let seen = Array(UnsafeBufferPointer(start: counts, count: pieces))
            counts.deallocate()
            if seen != Array(repeating: 1, count: pieces) {
                XCTFail("round \(round), \(pieces) pieces: runs per piece \(seen)")
                return
            }
        }
    }

    /// After a pause long enough for the workers to stop spinning and sleep, jobs still complete.
    func testWorkersWakeAfterSleeping() {
        for _ in 0..<5 {
            usleep(3000)
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 3)
            counts.initialize(repeating: 0, count: 3)
            WorkerPool.shared.run(pieces: 3, threads: 3) { piece in counts[piece] += 1 }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 3)), [1, 1, 1])
            counts.deallocate()
        }
    }

    /// Four threads run split matmuls at once (most fall back while the pool is busy); every
    /// result must be the same bits as one thread's.
    func testConcurrentCallersGetIdenticalResults() {
        let m = 3, k = 97, n = 130
        var rng = SeededRandom(seed: 41)
        let x = TestBuffer(random: m * k, using: &rng)
        let w = TestBuffer(random: k * n, using: &rng)
        let expected = TestBuffer(count: m * n)
        Kernels(threads: 1).matmul(expected.pointer, x.pointer, w.pointer, bias: nil, m: m, k: k, n: n)
        let callers = 4, rounds = 200
        let outputs = (0..<callers).map { _ in TestBuffer(count: m * n) }
        let mismatches = UnsafeMutablePointer<Int>.allocate(capacity: callers)
        mismatches.initialize(repeating: 0, count: callers)
        defer { mismatches.deallocate() }
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let kernels = Kernels(threads: 2 + caller % 2, minimumWork: 1)
            let y = outputs[caller]
            for _ in 0..<rounds {
                y.pointer.update(repeating: .nan, count: m * n)
                kernels.matmul(y.pointer, x.pointer, w.pointer, bias: nil, m: m, k: k, n: n)
                if y.values.map(\.bitPattern) != expected.values.map(\.bitPattern) { mismatches[caller] += 1 }
            }
        }
        for caller in 0..<callers {
            XCTAssertEqual(mismatches[caller], 0, "caller \(caller): rounds differing from one thread")
        }
    }

    /// A split kernel called from inside a piece (the pool is busy with the outer job) completes.
    func testNestedCallCompletes() {
        let n = 1000
        var rng = SeededRandom(seed: 43)
        let a = TestBuffer(random: n, using: &rng), b = TestBuffer(random: n, using: &rng)
        let outer = (0..<3).map { _ in a.copy() }
        let kernels = Kernels(threads: 2, minimumWork: 1)
        WorkerPool.shared.run(pieces: 3, threads: 3) { piece in
            kernels.add(outer[piece].pointer, b.pointer, count: n)
        }
        let expected = zip(a.values, b.values).map { $0 + $1 }
        for piece in 0..<3 {
            assertIdentical(outer[piece].values, expected, "nested add in piece \(piece)")
        }
    }

    /// A split into more pieces than threads starts no more workers than the threads allow: the pool
    /// never holds more than (the most threads any caller asked for) − 1 workers. The tests in this
    /// process ask for at most 3, or every core (`Kernels()`); 12 pieces must not make 11 workers.
    func testWorkersAreBoundedByThreadsNotPieces() {
        for threads in [2, 3] {
            WorkerPool.shared.run(pieces: 12, threads: threads) { _ in }
        }
        XCTAssertLessThanOrEqual(WorkerPool.shared.workerCount, max(3, ProcessInfo.processInfo.activeProcessorCount) - 1)
        XCTAssertGreaterThanOrEqual(WorkerPool.shared.workerCount, 1)
    }
}
