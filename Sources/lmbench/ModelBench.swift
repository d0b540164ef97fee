import Foundation
import GPT2
import LMEngine
import LMTokenizer

/// Why lmbench stopped.
enum BenchError: Error, CustomStringConvertible {
    /// A bad command line.
    case usage(String)
    /// The model folder or tokenizer could not be prepared.
    case setup(String)
    /// The daemon misbehaved.
    case daemon(String)

    var description: String {
        switch self {
        case let .usage(message): return "\(message)\n\(ModelBench.usage)"
        case let .setup(message): return message
        case let .daemon(message): return "lmd: \(message)"
        }
    }
}

/// `lmbench [options]`: latency and throughput of a GPT-2 model, in process and through a live lmd.
enum ModelBench {
    static let usage = """
        usage: lmbench [--model-dir DIR] [--layers N] [--embd N] [--heads N] [--positions N]
                       [--threads N] [--runs N] [--clients N] [--quick] [--json] [--no-daemon] [--no-engine]
                       [--dump-prompts FILE] [--write-model-only] [--tokenizer DIR]
               lmbench tokenizer [FILE]      tokenizer speed
               lmbench kernels [...]         kernel speed
               lmbench precision [...]       f32 vs f16/bf16/q8_0 weights: kernels and decode

          --model-dir DIR     model folder; written with random weights if it holds no model
                              (default: $TMPDIR/lmbench/gpt2-random-L6-E768-H12-P1024)
          --layers/--embd/--heads/--positions N
                              shape of a written model (default: distilgpt2's, 6/768/12/1024)
          --threads N         kernel threads, in process and in lmd (default 2)
          --runs N            runs of each short-prompt topk case (default 30; 8 with --quick)
          --clients N         concurrent clients (default 8)
          --quick             fewer repetitions of every case
          --json              print the figures as JSON instead of a table
          --no-daemon         skip the lmd measurements; --no-engine skips the in-process ones
          --dump-prompts FILE write every prompt (token ids) as JSON, for comparison harnesses
          --write-model-only  write the model folder (if needed), print its path, and stop
          --tokenizer DIR     where vocab.json and merges.txt are copied from
                              (default: Tests/Fixtures/tiny-gpt2)
        Build with `swift build -c release` so that lmd sits next to lmbench.
        """

    /// The parsed command line.
    struct Options {
        var modelDirectory: String?
        var layers: Int?, embd: Int?, heads: Int?, positions: Int?
        var threads = 2
        var runs: Int?
        var clients: Int?
        var quick = false
        var json = false
        var daemon = true
        var engine = true
        var dumpPrompts: String?
        var writeOnly = false
        var tokenizer: String?

        init(arguments: [String]) throws {
            var rest = arguments[...]
            func number(_ option: String) throws -> Int {
                guard let text = rest.popFirst(), let n = Int(text), n >= 1 else {
                    throw BenchError.usage("\(option) needs a whole number of at least 1")
                }
                return n
            }
            func text(_ option: String) throws -> String {
                guard let text = rest.popFirst() else { throw BenchError.usage("\(option) needs a value") }
                return text
            }
            while let argument = rest.popFirst() {
                switch argument {
                case "--model-dir": modelDirectory = try text(argument)
                case "--layers": layers = try number(argument)
                case "--embd": embd = try number(argument)
                case "--heads": heads = try number(argument)
                case "--positions": positions = try number(argument)
                case "--threads": threads = try number(argument)
                case "--runs": runs = try number(argument)
                case "--clients": clients = try number(argument)
                case "--quick": quick = true
                case "--json": json = true
                case "--no-daemon": daemon = false
                case "--no-engine": engine = false
                case "--dump-prompts": dumpPrompts = try text(argument)
                case "--write-model-only": writeOnly = true
                case "--tokenizer": tokenizer = try text(argument)
                case "--help", "-h": print(ModelBench.usage); exit(0)
                default: throw BenchError.usage("unknown argument \(argument)")
                }
            }
        }

        /// The shape asked for, distilgpt2's where not given.
        var config: GPT2Config {
            GPT2Config(nPositions: positions ?? 1024, nEmbd: embd ?? 768, nLayer: layers ?? 6, nHead: heads ?? 12)
        }
    }

    /// Runs the benchmark.
    static func run(arguments: [String]) throws {
        let options = try Options(arguments: arguments)
        let log: (String) -> Void = { FileHandle.standardError.write(Data("lmbench: \($0)\n".utf8)) }

        let folder = try prepareModel(options, log: log)
        let config = try GPT2Config.load(from: folder.appendingPathComponent("config.json"))
        log("model \(folder.path): \(describe(config))")
        if options.writeOnly {
            print(folder.path)
            return
        }

        let tokenizer = try GPT2Tokenizer.load(directory: folder)
        var plan = options.quick ? RunPlan.quick : RunPlan()
        if let runs = options.runs { plan.latencyRuns = runs }
        if let clients = options.clients { plan.clients = clients }
        let prompts = PromptSet(plan: plan, maxLength: config.nPositions - 1) { tokenizer.encode($0) }
        if let path = options.dumpPrompts {
            let data = try JSONSerialization.data(withJSONObject: prompts.jsonObject(), options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: path))
            log("prompts written to \(path)")
        }
        let scenarios = Scenarios(prompts: prompts, plan: plan) { log("  " + $0) }

        var report = Report(config: config, folder: folder.path, threads: options.threads, quick: options.quick)
        if options.engine {
            log("in process: loading")
            report.inProcess = try measureInProcess(folder: folder, threads: options.threads, scenarios: scenarios)
        }
        if options.daemon {
            if let executable = DaemonProcess.executableNextToSelf() {
                log("lmd: starting \(executable)")
                report.daemon = try measureDaemon(executable: executable, folder: folder, threads: options.threads, scenarios: scenarios)
            } else {
                report.notes.append("lmd not measured: no lmd next to lmbench (build both: swift build -c release)")
            }
        }
        if let a = report.inProcess?.sameTop, let b = report.daemon?.sameTop, a != b {
            report.notes.append("WARNING: in-process and lmd top-\(a.count) ids differ for the same prompt: \(a) vs \(b)")
        }
        print(options.json ? report.json() : report.table())
    }

    /// The model folder, written first when it holds no model.
    static func prepareModel(_ options: Options, log: (String) -> Void) throws -> URL {
        let asked = options.config
        guard asked.nEmbd % asked.nHead == 0 else {
            throw BenchError.usage("--embd \(asked.nEmbd) must be divisible by --heads \(asked.nHead)")
        }
        let folder = URL(fileURLWithPath: options.modelDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("lmbench/gpt2-random-L\(asked.nLayer)-E\(asked.nEmbd)-H\(asked.nHead)-P\(asked.nPositions)").path)
        let model = RandomModelFolder(directory: folder, config: asked)
        if model.exists {
            let found = try GPT2Config.load(from: folder.appendingPathComponent("config.json"))
            let shapeGiven = options.layers != nil || options.embd != nil || options.heads != nil || options.positions != nil
            if shapeGiven, (found.nLayer, found.nEmbd, found.nHead, found.nPositions) != (asked.nLayer, asked.nEmbd, asked.nHead, asked.nPositions) {
                throw BenchError.setup("\(folder.path) already holds a model of another shape (\(describe(found))); pick another --model-dir")
            }
            return folder
        }
        log("writing a random-weights model (\(describe(asked))) to \(folder.path)")
        let seconds = try timed { try model.write(tokenizerSource: tokenizerSource(options.tokenizer)) }.1
        log(String(format: "  written in %.1f s", seconds))
        return folder
    }

    /// The folder that vocab.json and merges.txt are copied from.
    static func tokenizerSource(_ given: String?) -> URL {
        if let given { return URL(fileURLWithPath: given) }
        let relative = "Tests/Fixtures/tiny-gpt2"
        if FileManager.default.fileExists(atPath: relative + "/vocab.json") { return URL(fileURLWithPath: relative) }
        // Sources/lmbench/ModelBench.swift → the repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(relative)
    }

    /// "6 layers × 768 wide, 12 heads, 1024 positions, vocab 50257: 81,912,576 parameters".
    static func describe(_ c: GPT2Config) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        let count = formatter.string(from: NSNumber(value: c.parameterCount)) ?? String(c.parameterCount)
        return "\(c.nLayer) layers × \(c.nEmbd) wide, \(c.nHead) heads, \(c.nPositions) positions, vocab \(c.vocabSize): \(count) parameters"
    }

    private static func measureInProcess(folder: URL, threads: Int, scenarios: Scenarios) throws -> TargetResults {
        var results = TargetResults()
        // Memory used before (writing the model, the prompts' tokenizer) is not the engine's.
        let resetWorked = ProcessMemory.resetPeak()
        var engineOptions = EngineOptions()
        engineOptions.threads = threads
        let (engine, loadSeconds) = try timed { try Engine.load(modelDirectory: folder, options: engineOptions) }
        results.record(Report.load, .seconds(loadSeconds))
        let target = EngineTarget(engine: engine)
        try scenarios.run(target, into: &results)
        if let peak = ProcessMemory.peakRSS() {
            results.record(resetWorked ? Report.peakRSS : Report.peakRSSProcess, .bytes(peak))
        }
        return results
    }

    private static func measureDaemon(executable: String, folder: URL, threads: Int, scenarios: Scenarios) throws -> TargetResults {
        var results = TargetResults()
        let daemon = try DaemonProcess(executable: executable, model: folder, threads: threads)
        defer { daemon.stop() }
        results.record(Report.load, .seconds(daemon.startSeconds))
        let target = try DaemonTarget(socketPath: daemon.socketPath)
        try scenarios.run(target, into: &results)
        if let peak = daemon.peakRSS { results.record(Report.peakRSS, .bytes(peak)) }
        return results
    }
}
