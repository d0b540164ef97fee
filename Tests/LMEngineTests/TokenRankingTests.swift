import TestSupport
import XCTest
@testable import LMEngine

/// `TokenRanking.top` against a full sort with the same rule (larger logit first, NaN last, lower id
/// on ties), on rows with many ties, NaNs and infinities, for k from 1 past the row's length.
final class TokenRankingTests: XCTestCase {
    private func reference(_ x: [Float], k: Int) -> [Int] {
        Array(x.indices.sorted { a, b in
            if x[a].isNaN { return false }
            if x[b].isNaN { return true }
            return x[a] > x[b] || (x[a] == x[b] && a < b)
        }.prefix(k))
    }

    func testTopMatchesAFullSort() {
        var rng = FuzzRandom(seed: 2026)
        for length in [1, 5, 8, 9, 17, 100, 1000, 50257] {
            for round in 0..<4 {
                // Few distinct values (ties everywhere) in some rounds, a wide range in others.
                var x = (0..<length).map { _ -> Float in
                    round % 2 == 0 ? Float(Int.random(in: -3...3, using: &rng)) : Float.random(in: -20...20, using: &rng)
                }
                if length > 10 {
                    for _ in 0..<3 { x[Int.random(in: 0..<length, using: &rng)] = .nan }
                    x[Int.random(in: 0..<length, using: &rng)] = .infinity
                    x[Int.random(in: 0..<length, using: &rng)] = -.infinity
                }
                for k in [1, 2, 10, 100, length, length + 3] {
                    let got = x.withUnsafeBufferPointer { TokenRanking.top($0, k: k) }
                    XCTAssertEqual(got, reference(x, k: k), "length \(length) round \(round) k \(k)")
                }
            }
        }
    }
}
