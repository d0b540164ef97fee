import Foundation
import GPT2
import LMKernels

/// `lmbench precision`: float32 against float16, bfloat16 and q8_0 weights on distilgpt2's shapes
/// (build with `-c release`).
///
/// Kernels: decode products (M = 1) cycling through ≥ 256 MB of weight copies, so that every call reads
/// them from memory, with GB/s counted in the format's own bytes; the head; a 128-row prefill product.
/// Model: random distilgpt2-shaped weights (std 0.02, seed 1) converted to each precision: prefill
/// tokens/s for one prompt, decode tokens/s through the KV cache, and the logits' distance from float32's.
/// Options: `--threads 2`, `--seconds 1` (per kernel case; best of five trials), `--prefill 128`,
/// `--decode 64`, `--only kernels|model`, `--precisions f16,q8_0` (float32 always runs first, as the yardstick), `--copies N` (weight copies the decode products cycle through;
/// 1 keeps them in cache, to see the arithmetic's own speed).
enum PrecisionBench {
    /// A malformed command line.
    struct BadOption: Error, CustomStringConvertible {
        let option: String
        var description: String {
            "lmbench precision: unrecognised or malformed option '\(option)' (use --threads N --seconds S --prefill T --decode T --only kernels|model)"
        }
    }

    /// Runs the benchmark with the given options.
    static func run(arguments: [String]) throws {
        var threads = 2, seconds = 1.0, prefill = 128, decode = 64
        var copies: Int?
        var precisions = WeightPrecision.allCases
        var only: String?
        var i = 0
        while i < arguments.count {
            let option = arguments[i]
            guard i + 1 < arguments.count else { throw BadOption(option: option) }
            let value = arguments[i + 1]
            switch option {
            case "--threads": guard let v = Int(value), v > 0 else { throw BadOption(option: "\(option) \(value)") }; threads = v
            case "--seconds": guard let v = Double(value), v > 0 else { throw BadOption(option: "\(option) \(value)") }; seconds = v
            case "--prefill": guard let v = Int(value), v > 0, v <= 1000 else { throw BadOption(option: "\(option) \(value)") }; prefill = v
            case "--decode": guard let v = Int(value), v > 0, v <= 1000 else { throw BadOption(option: "\(option) \(value)") }; decode = v
            case "--copies": guard let v = Int(value), v > 0 else { throw BadOption(option: "\(option) \(value)") }; copies = v
            case "--precisions":
                let list = value.split(separator: ",").compactMap { WeightPrecision(name: String($0)) }
                guard !list.isEmpty, list.count == value.split(separator: ",").count else { throw BadOption(option: "\(option) \(value)") }
                precisions = [.float32] + list.filter { $0 != .float32 }
            case "--only": guard value == "kernels" || value == "model" else { throw BadOption(option: "\(option) \(value)") }; only = value
            default: throw BadOption(option: option)
            }
            i += 2
        }
        let kernels = Kernels(threads: threads)
        print("precision benchmark: \(threads) threads, \(ProcessInfo.processInfo.activeProcessorCount) cores reported")
        if only != "model" { kernelCases(kernels, precisions, seconds: seconds, copies: copies) }
        if only != "kernels" { try modelCases(kernels, precisions, prefill: prefill, decode: decode) }
    }

    // MARK: Kernels

    /// One weight matrix: float32 values, or (when formats are given) only the converted copies, so
    /// that many copies fit in memory.
    final class Matrix {
        let rows: Int, columns: Int
        private let values: UnsafeMutablePointer<Float>
        let converted: [QuantizedFormat: QuantizedStorage]
        /// The float32 values (only when no formats were asked for).
        var floats: UnsafeMutablePointer<Float> { values }

        init(rows: Int, columns: Int, seed: UInt64, formats: [QuantizedFormat], order: QuantizedTileOrder = .columnMajor) {
            self.rows = rows
            self.columns = columns
            let count = formats.isEmpty ? rows * columns : 0
            let source = UnsafeMutablePointer<Float>.allocate(capacity: rows * columns)
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            for i in 0..<(rows * columns) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                source[i] = (Float(state >> 40) * 0x1p-24 - 0.5) * 0.07
            }
            var c: [QuantizedFormat: QuantizedStorage] = [:]
            for f in formats { c[f] = QuantizedStorage(converting: source, rows: rows, columns: columns, format: f, order: order) }
            converted = c
            if count > 0 {
                values = source
            } else {
                source.deallocate()
                values = .allocate(capacity: 1)
            }
        }

        deinit { values.deallocate() }
    }

    static func kernelCases(_ kernels: Kernels, _ precisions: [WeightPrecision], seconds: Double, copies fixedCopies: Int?) {
        print("-- kernels (µs per call, GB/s of weights in their own format, speed-up over float32; cpu/wall shows how many cores were ours)")
        // Decode shapes of distilgpt2 (M = 1), and four sequences decoding together (M = 4).
        let shapes: [(m: Int, k: Int, n: Int, head: Bool)] = [
            (1, 768, 2304, false), (1, 768, 3072, false), (1, 3072, 768, false), (1, 768, 50257, true),
            (4, 768, 3072, false), (4, 768, 50257, true),
        ]
        for shape in shapes {
            let (m, k, n) = (shape.m, shape.k, shape.n)
            let x = Matrix(rows: m, columns: k, seed: 99, formats: []), bias = Matrix(rows: 1, columns: n, seed: 98, formats: [])
            let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { y.deallocate() }
            var bodies: [(Int) -> Void] = [], bytes: [Int] = []
            for precision in precisions {
                let size = Int(Double(k * n) * precision.bytesPerWeight)
                let copies = fixedCopies ?? max(2, (256 << 20) / size + 1)
                let formats = precision.format.map { [$0] } ?? []
                let matrices = (0..<copies).map {
                    shape.head ? Matrix(rows: n, columns: k, seed: UInt64($0), formats: formats, order: .rowMajor)
                               : Matrix(rows: k, columns: n, seed: UInt64($0), formats: formats)
                }
                bytes.append(size)
                bodies.append { call in
                    let w = matrices[call % copies]
                    switch (precision.format, shape.head) {
                    case (nil, false): kernels.matmul(y, x.floats, w.floats, bias: bias.floats, m: m, k: k, n: n)
                    case (nil, true): kernels.matmulTransposed(y, x.floats, w.floats, bias: nil, m: m, k: k, n: n)
                    case (let f?, false): kernels.quantizedMatmul(y, x.floats, w.converted[f]!.matrix, bias: bias.floats, m: m, k: k, n: n)
                    case (let f?, true): kernels.quantizedMatmulTransposed(y, x.floats, w.converted[f]!.matrix, bias: nil, m: m, k: k, n: n)
                    }
                }
            }
            let times = time(seconds: seconds, bodies)
            for (i, precision) in precisions.enumerated() {
                let t = times[i]
                let name = shape.head ? "head M=\(m) \(k)x\(n)" : "matmul M=\(m) \(k)x\(n)"
                print(String(format: "%-28@ %-9@ %8.1f µs %6.1f GB/s  ×%.2f  (cpu/wall %.1f)", name as NSString,
                             precision.rawValue as NSString, t.wall * 1e6, Double(bytes[i]) / t.wall / 1e9,
                             times[0].wall / t.wall, t.cpu / t.wall))
            }
        }
        // Prefill: bound by arithmetic; one copy of the weights.
        let m = 128, k = 768, n = 3072
        let w32 = Matrix(rows: k, columns: n, seed: 1, formats: []), w = Matrix(rows: k, columns: n, seed: 1, formats: QuantizedFormat.allCases)
        let x = Matrix(rows: m, columns: k, seed: 2, formats: []), bias = Matrix(rows: 1, columns: n, seed: 3, formats: [])
        let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { y.deallocate() }
        let times = time(seconds: seconds, precisions.map { precision in
            { _ in
                if let f = precision.format {
                    kernels.quantizedMatmul(y, x.floats, w.converted[f]!.matrix, bias: bias.floats, m: m, k: k, n: n)
                } else {
                    kernels.matmul(y, x.floats, w32.floats, bias: bias.floats, m: m, k: k, n: n)
                }
            }
        })
        for (i, precision) in precisions.enumerated() {
            print(String(format: "%-28@ %-9@ %8.1f µs %6.1f GFLOP/s  (cpu/wall %.1f)", "matmul M=\(m) \(k)x\(n)" as NSString,
                         precision.rawValue as NSString, times[i].wall * 1e6, 2.0 * Double(m * k * n) / times[i].wall / 1e9,
                         times[i].cpu / times[i].wall))
        }
    }

    /// Seconds per call of each body: the best of five rounds, each giving every body about
    /// `seconds`/5 in turn (after one warm-up call each), so that load from elsewhere on the machine
    /// falls on all of them alike; with the process CPU seconds per call in that round.
    static func time(seconds: Double, _ bodies: [(Int) -> Void]) -> [(wall: Double, cpu: Double)] {
        for body in bodies { body(0) }
        var calls = 1
        var best = [(wall: Double, cpu: Double)](repeating: (.infinity, 0), count: bodies.count)
        for _ in 0..<5 {
            for (i, body) in bodies.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
                var n = 0, elapsed = 0.0
                repeat {
                    body(calls)
                    calls += 1
                    n += 1
                    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                } while elapsed < seconds / 5 || n < 2
                if elapsed / Double(n) < best[i].wall { best[i] = (elapsed / Double(n), (cpuSeconds() - cpuStart) / Double(n)) }
            }
        }
        return best
    }

    /// CPU seconds this process has used, all threads.
    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    // MARK: Model

    static func modelCases(_ kernels: Kernels, _ precisions: [WeightPrecision], prefill: Int, decode: Int) throws {
        let config = GPT2Config(nLayer: 6)  // distilgpt2
        print("-- model: distilgpt2 shape (6×768, vocab 50257), random weights std 0.02; prompt \(prefill) tokens, \(decode) decoded (best of 3 interleaved rounds)")
        let base = GPT2Weights.random(config: config, seed: 1, std: 0.02)
        var state: UInt64 = 12345
        let prompt = (0..<prefill).map { _ -> Int in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % config.vocabSize
        }
        var models: [GPT2Model] = [], convertSeconds: [Double] = []
        for precision in precisions {
            let start = DispatchTime.now().uptimeNanoseconds
            models.append(GPT2Model(weights: base.converted(to: precision), kernels: kernels))
            convertSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        var prefillSeconds = [Double](repeating: .infinity, count: precisions.count)
        var decodeSeconds = prefillSeconds
        var greedy = [[Int]](repeating: [], count: precisions.count)
        for _ in 0..<3 {
            for (i, model) in models.enumerated() {
                var t0 = DispatchTime.now().uptimeNanoseconds
                _ = try model.forward(prompt, cache: model.makeCache(), logits: .last)
                prefillSeconds[i] = min(prefillSeconds[i], Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                // Greedy decode after the first 16 prompt tokens, one token per step.
                let cache = model.makeCache()
                var logits = try model.forward(Array(prompt.prefix(16)), cache: cache, logits: .last)
                var tokens: [Int] = []
                t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<decode {
                    let next = logits.indices.max { logits[$0] < logits[$1] } ?? 0
                    tokens.append(next)
                    logits = try model.forward([next], cache: cache, logits: .last)
                }
                decodeSeconds[i] = min(decodeSeconds[i], Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                greedy[i] = tokens
            }
        }
        let v = config.vocabSize
        let reference = try models[0].forward(prompt, cache: models[0].makeCache(), logits: .all)
        var mean = 0.0, square = 0.0
        for x in reference { mean += Double(x); square += Double(x) * Double(x) }
        mean /= Double(reference.count)
        let std = (square / Double(reference.count) - mean * mean).squareRoot()
        var margins: [Float] = []
        for r in 0..<prefill {
            let row = reference[(r * v)..<((r + 1) * v)].sorted(by: >)
            margins.append(row[0] - row[1])
        }
        margins.sort()
        print(String(format: "float32 logits: std %.4f; top-1 − top-2 margin: median %.5f, smallest %.6f", std, margins[prefill / 2], margins[0]))
        for (i, precision) in precisions.enumerated() {
            let matrixBytes = Double(matrixWeights(config)) * precision.bytesPerWeight
            var line = String(format: "%-9@ weights %6.1f MB (converted in %5.2f s)  prefill %4d: %7.1f tok/s  decode: %6.1f tok/s (%5.2f ms/token, ×%.2f)",
                              precision.rawValue as NSString, matrixBytes / 1e6, convertSeconds[i], prefill,
                              Double(prefill) / prefillSeconds[i], Double(decode) / decodeSeconds[i],
                              decodeSeconds[i] / Double(decode) * 1e3, decodeSeconds[0] / decodeSeconds[i])
            if i > 0 {
                let all = try models[i].forward(prompt, cache: models[i].makeCache(), logits: .all)
                var maxDiff: Float = 0, sum = 0.0, sameTop = 0
                for r in 0..<prefill {
                    var best = r * v, bestRef = r * v
                    for j in (r * v)..<((r + 1) * v) {
                        let d = abs(all[j] - reference[j])
                        maxDiff = max(maxDiff, d)
                        sum += Double(d)
                        if all[j] > all[best] { best = j }
                        if reference[j] > reference[bestRef] { bestRef = j }
                    }
                    if best == bestRef { sameTop += 1 }
                }
                let agree = zip(greedy[i], greedy[0]).prefix { $0 == $1 }.count
                line += String(format: "\n          vs float32: max |logit diff| %.5f, mean %.6f; same top-1 at %d/%d positions; greedy path equal for %d/%d tokens",
                               maxDiff, sum / Double(all.count), sameTop, prefill, agree, decode)
            }
            print(line)
        }
    }

    /// Weights in the matrices that are converted: the blocks' four and the tied head.
    static func matrixWeights(_ c: GPT2Config) -> Int {
        c.vocabSize * c.nEmbd + c.nLayer * (c.nEmbd * 3 * c.nEmbd + c.nEmbd * c.nEmbd + 2 * c.nEmbd * c.nInner)
    }
}
