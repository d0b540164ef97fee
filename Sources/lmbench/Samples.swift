import Foundation

/// Monotonic seconds (steady across wall-clock changes).
func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// Seconds `body` takes, and its value.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = now()
    let value = try body()
    return (value, now() - start)
}

/// Latencies of repeated runs of one case, in seconds.
struct Samples: Sendable {
    /// Every run's seconds, in the order they ran.
    var seconds: [Double] = []

    /// Number of runs.
    var count: Int { seconds.count }
    /// The middle run (mean of the two middle ones for an even count).
    var median: Double { quantile(0.5) }
    /// The run that 90% of runs were at least as fast as (nearest-rank).
    var p90: Double { quantile(0.9, nearestRank: true) }
    /// The fastest run.
    var best: Double { seconds.min() ?? .nan }

    /// Appends one run.
    mutating func append(_ value: Double) { seconds.append(value) }

    private func quantile(_ q: Double, nearestRank: Bool = false) -> Double {
        let sorted = seconds.sorted()
        guard !sorted.isEmpty else { return .nan }
        if nearestRank {
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
