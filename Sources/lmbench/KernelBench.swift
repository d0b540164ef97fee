import Foundation
import LMKernels

/// `lmbench kernels`: times the hot kernels on distilgpt2's shapes (build with `-c release`).
///
/// Options: `--threads 1,2` (thread counts to try), `--seconds 1` (time per case; the best of five
/// trials is shown), `--only GROUP` (a substring of decode, lmhead, small, prefill, attention-decode,
/// attention-prefill, elementwise).
/// Decode (M = 1) products cycle through enough copies of the weights (≥ 256 MB) that every call
/// reads them from memory, as a real forward pass over all layers does; GB/s counts weight bytes.
/// Multi-row products use one copy (it may stay in L3), as they are bound by arithmetic.
enum KernelBench {
    /// Errors in the benchmark's command line.
    enum BenchError: Error, CustomStringConvertible {
        case badOption(String)
        var description: String { "lmbench kernels: \(self.reason)" }
        private var reason: String {
            switch self {
            case .badOption(let s): return "unrecognised or malformed option '\(s)' (use --threads 1,2 --seconds 1 --only GROUP)"
            }
        }
    }

    /// If the first argument after the program name is `kernels`, runs the benchmark and exits.
    static func runIfRequested(_ commandLine: [String]) throws {
        guard commandLine.count > 1, commandLine[1] == "kernels" else { return }
        try run(arguments: Array(commandLine.dropFirst(2)))
        exit(0)
    }

    /// Runs every case for each thread count and prints one line per case.
    static func run(arguments: [String]) throws {
        var threadCounts = [1, 2]
        var seconds = 1.0
        var only: String?
        var i = 0
        while i < arguments.count {
            let option = arguments[i]
            guard i + 1 < arguments.count else { throw BenchError.badOption(option) }
            let value = arguments[i + 1]
            switch option {
            case "--threads":
                let counts = value.split(separator: ",").compactMap { Int($0) }
                guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw BenchError.badOption("\(option) \(value)") }
                threadCounts = counts
            case "--only":
                only = value
            case "--seconds":
                guard let s = Double(value), s > 0 else { throw BenchError.badOption("\(option) \(value)") }
                seconds = s
            default:
                throw BenchError.badOption(option)
            }
            i += 2
        }
        print("kernel benchmark: \(ProcessInfo.processInfo.activeProcessorCount) cores reported")
        for threads in threadCounts {
            let bench = Cases(kernels: Kernels(threads: threads), seconds: seconds, only: only)
            print("-- threads \(threads)")
            bench.readBandwidth(threads: threads)
            bench.matmulDecode(k: 768, n: 2304)
            bench.matmulDecode(k: 768, n: 3072)
            bench.matmulDecode(k: 3072, n: 768)
            bench.packedDecode(m: 1, k: 768, n: 2304)
            bench.packedDecode(m: 1, k: 768, n: 3072)
            bench.packedDecode(m: 1, k: 3072, n: 768)
            bench.packedDecode(m: 4, k: 768, n: 3072)
            bench.packedDecode(m: 5, k: 768, n: 3072)
            bench.packedDecode(m: 8, k: 768, n: 3072)
            bench.packedDecode(m: 16, k: 768, n: 3072)
            bench.packedDecode(m: 32, k: 768, n: 3072)
            bench.packedDecode(m: 64, k: 768, n: 3072)
            bench.packedDecode(m: 128, k: 768, n: 3072)
            bench.lmHeadDecode(k: 768, n: 50257)
            bench.lmHeadDecode(k: 768, n: 50257, hugePages: true)
            bench.packedHeadDecode(k: 768, n: 50257)
            bench.lmHeadAllPositions(m: 128, k: 768, n: 50257)
            bench.matmulPrefill(m: 4, k: 768, n: 3072)
            bench.matmulPrefill(m: 5, k: 768, n: 3072)
            bench.matmulPrefill(m: 128, k: 768, n: 3072)
            bench.matmulPrefill(m: 512, k: 768, n: 3072)
            bench.attention(t: 1, past: 450)
            bench.decodeAttentionFromMemory(past: 450)
            bench.attention(t: 450, past: 0)
            bench.elementwise()
        }
    }

}

/// The benchmark cases for one `Kernels` configuration.
private struct Cases {
    let kernels: Kernels
    let seconds: Double
    /// Run only cases whose group name contains this.
    let only: String?

    func wanted(_ group: String) -> Bool { only.map { group.contains($0) } ?? true }

    /// Times `body` in five trials of about `seconds`/5 each (after one warm-up call) and returns the
    /// best trial's wall-clock and process CPU seconds per call. The best trial is the one least
    /// disturbed by other load on the machine; CPU time shows how much that still was (with n
    /// threads busy it should be about n × wall; near 1 × wall means the other core was taken).
    func time(_ body: (Int) -> Void) -> (wall: Double, cpu: Double) {
        body(0)
        var calls = 1
        var best = (wall: Double.infinity, cpu: 0.0)
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = Self.cpuSeconds()
            var n = 0, elapsed = 0.0
            repeat {
                body(calls)
                calls += 1
                n += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < seconds / 5 || n < 2
            if elapsed / Double(n) < best.wall {
                best = (elapsed / Double(n), (Self.cpuSeconds() - cpuStart) / Double(n))
            }
        }
        return best
    }

    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func report(_ name: String, _ perCall: (wall: Double, cpu: Double), flops: Double, bytes: Double) {
        let wall = perCall.wall
        var line = String(format: "%-46@ %9.1f µs (cpu %9.1f µs)", name as NSString, wall * 1e6, perCall.cpu * 1e6)
        if flops > 0 { line += String(format: " %7.1f GFLOP/s", flops / wall / 1e9) }
        if bytes > 0 { line += String(format: " %6.1f GB/s", bytes / wall / 1e9) }
        print(line)
    }

    /// Float buffers with deterministic, non-trivial contents.
    static func buffer(_ count: Int, seed: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        var s = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
        for i in 0..<count {
            s = s &* 1_664_525 &+ 1_013_904_223
            p[i] = Float(Int32(bitPattern: s) >> 8) / Float(1 << 23) * 0.1
        }
        return p
    }

    /// How many copies of `bytes` of weights make at least 256 MB.
    static func copies(_ bytes: Int) -> Int { max(2, (256 << 20) / bytes + 1) }

    /// The memory-read roof: summing 256 MB of floats (eight lanes, four accumulators) split over
    /// `threads` threads, which is what a decode matrix-vector product can hope to approach.
    func readBandwidth(threads: Int) {
        guard wanted("decode") else { return }
        let count = 64 << 20
        let data = Self.buffer(count, seed: 10)
        var sink: Float = 0
        let t = time { _ in
            let chunk = count / threads
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: threads)
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                var a = SIMD8<Float>(), b = a, c = a, d = a
                var p = data + part * chunk
                let end = p + chunk
                while p < end {
                    let raw = UnsafeRawPointer(p)
                    a += raw.loadUnaligned(as: SIMD8<Float>.self)
                    b += raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    c += raw.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                    d += raw.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                    p += 32
                }
                sums[part] = (a + b + c + d).sum()
            }
            for i in 0..<threads { sink += sums[i] }
            sums.deallocate()
        }
        report("read bandwidth (sum of 256 MB)", t, flops: 0, bytes: Double(count * 4))
        if sink == 42 { print("") }
        data.deallocate()
    }

    func matmulDecode(k: Int, n: Int) {
        guard wanted("decode") else { return }
        let copies = Self.copies(k * n * 4)
        let weights = (0..<copies).map { Self.buffer(k * n, seed: $0) }
        let x = Self.buffer(k, seed: 99), b = Self.buffer(n, seed: 98)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let t = time { call in kernels.matmul(y, x, weights[call % copies], bias: b, m: 1, k: k, n: n) }
        report("matmul M=1 \(k)x\(n)", t, flops: 2.0 * Double(k * n), bytes: Double(k * n * 4))
        weights.forEach { $0.deallocate() }
        [x, b, y].forEach { $0.deallocate() }
    }

    /// As `matmulDecode` (and the few-row case) on weights packed in panels, as the model keeps them.
    func packedDecode(m: Int, k: Int, n: Int) {
        guard wanted(m == 1 ? "decode" : "small") else { return }
        let copies = Self.copies(k * n * 4)
        let weights = (0..<copies).map { seed in
            let w = Self.buffer(k * n, seed: seed)
            defer { w.deallocate() }
            return PackedMatrix(packing: w, rows: k, columns: n)
        }
        let x = Self.buffer(m * k, seed: 99), b = Self.buffer(n, seed: 98)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let t = time { call in kernels.matmul(y, x, packed: weights[call % copies], bias: b, m: m) }
        report("packed M=\(m) \(k)x\(n)", t, flops: 2.0 * Double(m * k * n), bytes: Double(k * n * 4))
        [x, b, y].forEach { $0.deallocate() }
    }

    func lmHeadDecode(k: Int, n: Int, hugePages: Bool = false) {
        guard wanted("lmhead") else { return }
        let copies = Self.copies(k * n * 4)
        var keep: [AlignedMemory] = []
        let weights = (0..<copies).map { seed -> UnsafeMutablePointer<Float> in
            let w = Self.buffer(k * n, seed: seed)
            guard hugePages else { return w }
            let memory = AlignedMemory(bytes: k * n * 4)
            keep.append(memory)
            let p = memory.base.bindMemory(to: Float.self, capacity: k * n)
            p.update(from: w, count: k * n)
            w.deallocate()
            return p
        }
        let x = Self.buffer(k, seed: 97)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let t = time { call in kernels.matmulTransposed(y, x, weights[call % copies], bias: nil, m: 1, k: k, n: n) }
        report("matmulTransposed M=1 \(k)x\(n) (LM head\(hugePages ? ", 2 MB pages" : ""))", t, flops: 2.0 * Double(k * n), bytes: Double(k * n * 4))
        if !hugePages { weights.forEach { $0.deallocate() } }
        [x, y].forEach { $0.deallocate() }
    }

    /// The head as the model keeps float32 weights: wte's transpose packed in panels.
    func packedHeadDecode(k: Int, n: Int) {
        guard wanted("lmhead") else { return }
        let copies = Self.copies(k * n * 4)
        let weights = (0..<copies).map { seed in
            let w = Self.buffer(k * n, seed: seed)
            defer { w.deallocate() }
            return PackedMatrix(packingTransposeOf: w, rows: n, columns: k)
        }
        let x = Self.buffer(k, seed: 97)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let t = time { call in kernels.matmul(y, x, packed: weights[call % copies], bias: nil, m: 1) }
        report("packed transposed M=1 \(k)x\(n) (LM head)", t, flops: 2.0 * Double(k * n), bytes: Double(k * n * 4))
        [x, y].forEach { $0.deallocate() }
    }

    /// Logits for every position of a 128-token prompt: x[M, 768] · wte[50257, 768]ᵀ.
    func lmHeadAllPositions(m: Int, k: Int, n: Int) {
        guard wanted("lmhead") else { return }
        let w = Self.buffer(k * n, seed: 1), x = Self.buffer(m * k, seed: 2)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let t = time { _ in kernels.matmulTransposed(y, x, w, bias: nil, m: m, k: k, n: n) }
        report("matmulTransposed M=\(m) \(k)x\(n) (LM head)", t, flops: 2.0 * Double(m * k * n), bytes: Double(k * n * 4))
        [w, x, y].forEach { $0.deallocate() }
    }

    func matmulPrefill(m: Int, k: Int, n: Int) {
        guard wanted(m < 16 ? "small" : "prefill") else { return }
        let w = Self.buffer(k * n, seed: 1), x = Self.buffer(m * k, seed: 2), b = Self.buffer(n, seed: 3)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let t = time { _ in kernels.matmul(y, x, w, bias: b, m: m, k: k, n: n) }
        report("matmul M=\(m) \(k)x\(n)", t, flops: 2.0 * Double(m * k * n), bytes: Double(k * n * 4))
        [w, x, b, y].forEach { $0.deallocate() }
    }

    func attention(t: Int, past: Int) {
        guard wanted(t == 1 ? "attention-decode" : "attention-prefill") else { return }
        let nHead = 12, headDim = 64, width = 768, positions = past + t
        let q = Self.buffer(t * width, seed: 4)
        let keys = Self.buffer(positions * width, seed: 5), values = Self.buffer(positions * width, seed: 6)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: t * width)
        let perCall = time { _ in
            kernels.attention(out, q: q, qStride: width, keys: keys, values: values, kvStride: width,
                              t: t, past: past, nHead: nHead, headDim: headDim, scale: 0.125)
        }
        // Causal: query i sees past + i + 1 keys; 2 flops per multiply-add, for q·k and for p·v.
        var pairs = 0.0
        for i in 0..<t { pairs += Double(past + i + 1) }
        report("attention T=\(t) past=\(past) 12x64", perCall, flops: 4.0 * pairs * Double(nHead * headDim),
               bytes: Double(2 * positions * width * 4))
        [q, keys, values, out].forEach { $0.deallocate() }
    }

    /// A decode step's attention over a 450-token cache as the model keeps it (head by head, 1024
    /// positions per head), with the cache not in any CPU cache: the weights read between two steps
    /// evict it, so copies of it are taken in turn.
    func decodeAttentionFromMemory(past: Int) {
        guard wanted("attention-decode") else { return }
        let nHead = 12, headDim = 64, width = 768, capacity = 1024
        let bytes = 2 * nHead * capacity * headDim * 4
        let copies = max(2, (256 << 20) / bytes + 1)
        let caches = (0..<copies).map { (Self.buffer(nHead * capacity * headDim, seed: 20 + $0), Self.buffer(nHead * capacity * headDim, seed: 40 + $0)) }
        let q = Self.buffer(width, seed: 4)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: width)
        let perCall = time { call in
            let (keys, values) = caches[call % copies]
            kernels.attention(out, q: q, qStride: width, keys: keys, values: values, kvStride: headDim,
                              kvHeadStride: capacity * headDim, t: 1, past: past, nHead: nHead, headDim: headDim, scale: 0.125)
        }
        report("attention T=1 past=\(past) from memory", perCall, flops: 4.0 * Double((past + 1) * nHead * headDim),
               bytes: Double(2 * (past + 1) * width * 4))
        caches.forEach { $0.0.deallocate(); $0.1.deallocate() }
        [q, out].forEach { $0.deallocate() }
    }

    func elementwise() {
        guard wanted("elementwise") else { return }
        let rows = 128, n = 768, count = rows * 3072
        let x = Self.buffer(count, seed: 7), gamma = Self.buffer(n, seed: 8), beta = Self.buffer(n, seed: 9)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: count)
        var t = time { _ in kernels.layerNorm(y, x, gamma: gamma, beta: beta, rows: rows, n: n, eps: 1e-5) }
        report("layerNorm 128x768", t, flops: 0, bytes: Double(rows * n * 8))
        // Activations run on a fresh copy each time: applied repeatedly they would drift into
        // subnormal numbers, which are far slower and never occur in a forward pass.
        for kind in [Activation.geluNew, .gelu] {
            t = time { _ in
                y.update(from: x, count: count)
                kernels.activate(y, count: count, kind)
            }
            report("activate \(kind.rawValue) 128x3072 (with copy)", t, flops: 0, bytes: Double(count * 8))
        }
        y.update(from: x, count: 50257)
        t = time { _ in
            y.update(from: x, count: 50257)
            kernels.softmax(y, count: 50257)
        }
        report("softmax 50257 (with copy)", t, flops: 0, bytes: Double(50257 * 12))
        [x, gamma, beta, y].forEach { $0.deallocate() }
    }
}
