import Foundation
import XCTest

// Shared by every test target that fuzzes (LMProtocolTests, LMTokenizerTests, LMServerTests).

/// SplitMix64: a seeded generator, so that every case can be replayed from its seed.
public struct FuzzRandom: RandomNumberGenerator {
    /// The state; the next output is a mix of it.
    public var state: UInt64

    /// A generator whose outputs depend only on `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    /// A byte.
    public mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Runs one property over many seeded cases: by default a fixed number (deterministic, a few seconds in
/// a debug build, for CI); with `LMD_FUZZ_SECONDS=S` as many as fit in S seconds (the longer run of
/// `fuzz/run.sh --xctest`). `LMD_FUZZ_SEED` changes the seed; `LMD_FUZZ_CASE=i` runs case i only (a
/// failure names both). Stops at the first case that records a failure, so one bug is one message.
public struct FuzzRunner {
    /// The name printed with the count.
    public let name: String
    /// The base seed; case i uses a generator seeded from it and i.
    public let seed: UInt64
    private let cases: Int
    private let seconds: Double?
    private let only: Int?

    /// A runner of `cases` cases (unless the environment asks for a time budget instead).
    public init(_ name: String, cases: Int, seed: UInt64 = 1, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.name = name
        self.seed = environment["LMD_FUZZ_SEED"].flatMap { UInt64($0) } ?? seed
        self.cases = cases
        self.seconds = environment["LMD_FUZZ_SECONDS"].flatMap { Double($0) }.flatMap { $0 > 0 ? $0 : nil }
        self.only = environment["LMD_FUZZ_CASE"].flatMap { Int($0) }
    }

    /// The generator for case `index`.
    public func random(forCase index: Int) -> FuzzRandom {
        var mixer = FuzzRandom(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(truncatingIfNeeded: index))
        return FuzzRandom(seed: mixer.next())
    }

    /// How to name case `index` in a failure message.
    public func label(_ index: Int) -> String {
        "\(name) case \(index) (rerun with LMD_FUZZ_SEED=\(seed) LMD_FUZZ_CASE=\(index))"
    }

    /// Runs `body` for each case with its generator and label; returns how many cases ran.
    @discardableResult
    public func run(in test: XCTestCase, _ body: (inout FuzzRandom, String) throws -> Void) rethrows -> Int {
        let start = Date()
        let failuresBefore = test.testRun?.totalFailureCount ?? 0
        var ran = 0
        var index = only ?? 0
        while true {
            if only != nil {
                if ran == 1 { break }
            } else if let seconds {
                if Date().timeIntervalSince(start) >= seconds { break }
            } else if index >= cases {
                break
            }
            var rng = random(forCase: index)
            try body(&rng, label(index))
            ran += 1
            index += 1
            if (test.testRun?.totalFailureCount ?? 0) > failuresBefore { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        print("fuzz \(name): \(ran) cases in \(String(format: "%.1f", elapsed)) s (seed \(seed))")
        return ran
    }
}

extension Array where Element == UInt8 {
    /// The bytes as text for a failure message: printable ASCII as is, everything else escaped.
    public var fuzzDescription: String {
        var s = ""
        for b in prefix(600) {
            switch b {
            case 0x20..<0x7F where b != UInt8(ascii: "\\"): s.append(Character(Unicode.Scalar(b)))
            default: s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return count > 600 ? s + "…(\(count) bytes)" : s
    }
}
