import Foundation

/// One figure of one case for one target.
enum Figure: Sendable {
    /// Per-request latencies.
    case latency(Samples)
    /// A rate, e.g. tokens per second.
    case rate(Double, unit: String)
    /// A duration measured once.
    case seconds(Double)
    /// A number of bytes.
    case bytes(Int)
    /// Not measured, and why.
    case skipped(String)

    /// The figure as a table cell.
    var cell: String {
        switch self {
        case let .latency(s): return String(format: "%.1f / %.1f ms", s.median * 1000, s.p90 * 1000)
        case let .rate(value, unit): return String(format: value >= 100 ? "%.0f %@" : "%.1f %@", value, unit)
        case let .seconds(s): return s >= 1 ? String(format: "%.2f s", s) : String(format: "%.0f ms", s * 1000)
        case let .bytes(b): return String(format: "%.0f MiB", Double(b) / 1_048_576)
        case let .skipped(why): return "– (\(why))"
        }
    }

    /// The figure as JSON.
    var json: Any {
        switch self {
        case let .latency(s):
            return ["median_ms": s.median * 1000, "p90_ms": s.p90 * 1000, "best_ms": s.best * 1000, "runs": s.count]
        case let .rate(value, unit): return ["value": value, "unit": unit]
        case let .seconds(s): return ["seconds": s]
        case let .bytes(b): return ["bytes": b, "mib": Double(b) / 1_048_576]
        case let .skipped(why): return ["skipped": why]
        }
    }
}

/// A case's name in JSON and in the table.
struct CaseName: Hashable, Sendable {
    /// The JSON key.
    let key: String
    /// The table's row label.
    let title: String
}

/// The figures one target produced, in the order measured.
struct TargetResults: Sendable {
    /// Figures by case.
    var figures: [(CaseName, Figure)] = []
    /// Top ids the target gave for the repeated short prompt (to check that targets agree).
    var sameTop: [Int] = []

    mutating func record(_ name: CaseName, _ figure: Figure) { figures.append((name, figure)) }

    func figure(_ key: String) -> Figure? { figures.first { $0.0.key == key }?.1 }
}
