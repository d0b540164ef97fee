import Foundation
import GPT2

/// Picks the next token from a row of logits: argmax when the temperature is 0, otherwise a draw from
/// the softmax of logits / temperature restricted by top-k and then top-p (as HF's warpers order them).
struct Sampler {
    var temperature: Float
    var topK: Int?
    var topP: Float?
    var generator: SeededGenerator

    /// Validates the options (named errors) and seeds the generator.
    init(options: GenerationOptions) throws {
        guard options.temperature.isFinite, options.temperature >= 0 else {
            throw EngineError.invalidArgument(name: "temperature", reason: "must be a finite number ≥ 0")
        }
        if let k = options.topK, k < 0 {
            throw EngineError.invalidArgument(name: "top_k", reason: "must be ≥ 0")
        }
        if let p = options.topP, !(p > 0 && p <= 1) {
            throw EngineError.invalidArgument(name: "top_p", reason: "must be in (0, 1]")
        }
        temperature = options.temperature
        topK = options.topK
        topP = options.topP
        generator = SeededGenerator(seed: options.seed ?? UInt64.random(in: .min ... .max))
    }

    /// The chosen id for logits[V].
    mutating func choose(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if temperature == 0 { return TokenRanking.top(logits, k: 1).first ?? 0 }
        // Candidates: the top-k (or everything), best first, so top-p can cut a prefix.
        // Sorting is only needed to cut a prefix; without top-k or top-p every id is a candidate as it is.
        let limitK = (topK ?? 0) > 0 ? min(topK!, logits.count) : nil
        let needsTopP = (topP ?? 1) < 1
        let candidates: [Int] = (limitK != nil || needsTopP)
            ? TokenRanking.top(logits, k: limitK ?? logits.count) : Array(logits.indices)
        let t = Double(temperature)
        var mx = -Double.infinity
        for i in candidates { mx = max(mx, Double(logits[i]) / t) }
        var weights = candidates.map { Foundation.exp(Double(logits[$0]) / t - mx) }
        var total = weights.reduce(0, +)
        if let p = topP, p < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count {
                cumulative += weights[keep] / total
                keep += 1
                if cumulative >= Double(p) { break }
            }
            weights.removeSubrange(keep...)
            total = weights.reduce(0, +)
        }
        var r = generator.nextUnit() * total
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { return candidates[i] }
        }
        return candidates[weights.count - 1]
    }
}
