import Foundation
import GPT2

/// Everything measured, printed as a table or as JSON.
struct Report {
    let config: GPT2Config
    let folder: String
    let threads: Int
    let quick: Bool
    /// Figures of the engine called in this process.
    var inProcess: TargetResults?
    /// Figures of a live lmd over its socket.
    var daemon: TargetResults?
    /// Lines printed under the table.
    var notes: [String] = []

    static let load = CaseName(key: "load", title: "load (lmd: spawn to first answer)")
    static let peakRSS = CaseName(key: "peak_rss", title: "peak RSS")
    static let peakRSSProcess = CaseName(key: "peak_rss", title: "peak RSS (incl. model writing)")

    /// Cases in the order measured, each once, whichever target has it.
    private var cases: [CaseName] {
        var seen = Set<String>(), names: [CaseName] = []
        for results in [inProcess, daemon].compactMap({ $0 }) {
            for (name, _) in results.figures where seen.insert(name.key).inserted { names.append(name) }
        }
        return names
    }

    /// A plain-text table: one row per case, one column per target.
    func table() -> String {
        var lines = [
            "lmbench — GPT-2, \(ModelBench.describe(config)), float32",
            "model: \(folder); threads: \(threads); \(quick ? "quick run" : "full run"); latencies are median / p90",
            "",
        ]
        let width = 48, column = 24
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
        lines.append(pad("case", width) + pad("in process", column) + "lmd (socket)")
        lines.append(String(repeating: "-", count: width + 2 * column))
        for name in cases {
            let a = inProcess?.figure(name.key)?.cell ?? "–"
            let b = daemon?.figure(name.key)?.cell ?? "–"
            lines.append(pad(name.title, width) + pad(a, column) + b)
        }
        if !notes.isEmpty { lines.append("") }
        lines += notes
        return lines.joined(separator: "\n")
    }

    /// The figures as JSON: {model, threads, quick, in_process: {case: figure}, lmd: {...}, notes}.
    func json() -> String {
        func object(_ results: TargetResults?) -> Any {
            guard let results else { return NSNull() }
            var object = Dictionary(results.figures.map { ($0.0.key, $0.1.json) }, uniquingKeysWith: { a, _ in a })
            object["topk_same_prompt_ids"] = results.sameTop
            return object
        }
        let root: [String: Any] = [
            "model": [
                "folder": folder, "layers": config.nLayer, "embd": config.nEmbd, "heads": config.nHead,
                "positions": config.nPositions, "vocab": config.vocabSize, "parameters": config.parameterCount,
                "dtype": "float32",
            ],
            "threads": threads,
            "quick": quick,
            "in_process": object(inProcess),
            "lmd": object(daemon),
            "notes": notes,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
