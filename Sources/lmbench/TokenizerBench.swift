import Foundation
import GPT2
import LMTokenizer

/// `lmbench tokenizer [FILE] [--tokenizer DIR]`: encoding speed of the GPT-2 tokenizer on about 1 MB of
/// English (FILE, repeated or cut to 1 MB, or deterministic generated prose), with an empty word cache
/// (cold) and a full one (warm).
enum TokenizerBench {
    /// Runs the benchmark with the arguments after `tokenizer`.
    static func run(arguments: [String]) throws {
        var file: String?
        var directory = "Tests/Fixtures/tiny-gpt2"
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--tokenizer", let value = rest.popFirst() {
                directory = value
            } else if argument.hasPrefix("-") {
                throw BenchError.usage("usage: lmbench tokenizer [FILE] [--tokenizer DIR]")
            } else {
                file = argument
            }
        }

        let targetBytes = 1_000_000
        let text: String
        let source: String
        if let file {
            let content = try String(contentsOfFile: file, encoding: .utf8)
            guard !content.isEmpty else { throw BenchError.usage("\(file) is empty") }
            text = fit(content, to: targetBytes)
            source = file
        } else {
            text = Prose.generate(bytes: targetBytes, seed: 1)
            source = "generated prose"
        }
        let megabytes = Double(text.utf8.count) / 1e6

        let start = Date()
        let tokenizer = try GPT2Tokenizer.load(directory: URL(fileURLWithPath: directory))
        print("tokenizer: \(directory), loaded in \(ms(Date().timeIntervalSince(start)))")
        print("text: \(source), \(text.utf8.count) bytes")

        var cold = Timing.worst
        var ids: [Int] = []
        for _ in 0..<3 {
            tokenizer.clearCache()
            cold = cold.best(Timing.measure { ids = tokenizer.encode(text) })
        }
        let words = tokenizer.cachedWordCount
        let warm = Timing.best(of: 5) { _ = tokenizer.encode(text) }
        let offsets = Timing.best(of: 3) { _ = tokenizer.encodeWithOffsets(text) }
        let decode = Timing.best(of: 3) { _ = try? tokenizer.decode(ids) }

        let roundTrip = (try? tokenizer.decode(ids)) == text
        print("tokens: \(ids.count) (\(String(format: "%.2f", Double(text.utf8.count) / Double(max(ids.count, 1)))) bytes/token), distinct cached words: \(words), round trip: \(roundTrip ? "exact" : "DIFFERS")")
        print("best of 3-5 runs           wall time  MB/s (wall)  MB/s (thread CPU)")
        print(line("encode, cold cache", cold, megabytes))
        print(line("encode, warm cache", warm, megabytes))
        print(line("encodeWithOffsets, warm", offsets, megabytes))
        print(line("decode", decode, megabytes))
        if !roundTrip { throw BenchError.usage("decode(encode(text)) differs from the text") }
    }

    /// Wall-clock and thread CPU seconds of one run; the CPU figure is steadier on a shared machine.
    private struct Timing {
        var wall: Double
        var cpu: Double

        static let worst = Timing(wall: .infinity, cpu: .infinity)

        static func measure(_ body: () -> Void) -> Timing {
            let wallStart = Date()
            let cpuStart = threadCPUSeconds()
            body()
            return Timing(wall: Date().timeIntervalSince(wallStart), cpu: threadCPUSeconds() - cpuStart)
        }

        static func best(of runs: Int, _ body: () -> Void) -> Timing {
            (0..<runs).reduce(worst) { result, _ in result.best(measure(body)) }
        }

        func best(_ other: Timing) -> Timing {
            Timing(wall: min(wall, other.wall), cpu: min(cpu, other.cpu))
        }

        private static func threadCPUSeconds() -> Double {
            var spec = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
            return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }
    }

    private enum BenchError: Error, CustomStringConvertible {
        case usage(String)
        var description: String {
            switch self { case .usage(let message): return message }
        }
    }

    /// `text` repeated or cut (at a scalar boundary) to about `bytes` UTF-8 bytes.
    private static func fit(_ text: String, to bytes: Int) -> String {
        var result = ""
        while result.utf8.count < bytes { result += text }
        var scalars = String.UnicodeScalarView()
        var count = 0
        for scalar in result.unicodeScalars {
            count += String(scalar).utf8.count
            if count > bytes { break }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    private static func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }

    private static func line(_ name: String, _ timing: Timing, _ megabytes: Double) -> String {
        let padded = name.padding(toLength: 26, withPad: " ", startingAt: 0)
        let wall = ms(timing.wall).padding(toLength: 10, withPad: " ", startingAt: 0)
        return "\(padded) \(wall) \(String(format: "%9.1f", megabytes / timing.wall))  \(String(format: "%9.1f", megabytes / timing.cpu))"
    }
}

/// Deterministic English-like prose: Zipf-distributed words from a large made-up vocabulary (so that a
/// cold cache sees tens of thousands of distinct words, as real text does), with common English words,
/// capitals, punctuation, numbers, contractions and paragraphs.
private enum Prose {
    private static let common = ("the of and to a in is it that was for on are as with his they at be this from "
        + "have or by one had not but what all were when we there can an your which their said if do will each "
        + "about how up out them then she many some so these would other into has more her two like him see time")
        .split(separator: " ").map(String.init)
    private static let onsets = ["b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st",
                                 "tr", "pl", "gr", "ch", "sh", "th", "br", "cr"]
    private static let vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "io"]
    private static let codas = ["", "n", "r", "s", "t", "l", "nd", "st", "ng", "ck", "m", "rt"]
    private static let endings = ["", "", "", "s", "ed", "ing", "ly", "tion", "er", "ment"]

    static func generate(bytes: Int, seed: UInt64) -> String {
        var rng = SeededGenerator(seed: seed)
        let vocabulary = (0..<40_000).map { _ in made(&rng) }
        var out = ""
        out.reserveCapacity(bytes + 100)
        var sentenceStart = true
        var wordsInParagraph = 0
        while out.utf8.count < bytes {
            var word: String
            let roll = rng.next() % 100
            if roll < 45 {
                word = common[Int(rng.next() % UInt64(common.count))]
            } else if roll < 97 {
                // Zipf-like rank: small ranks are far more frequent.
                let u = Double(rng.next() % 1_000_000) / 1_000_000
                word = vocabulary[min(vocabulary.count - 1, Int(pow(Double(vocabulary.count), u)) - 1)]
            } else {
                word = String(rng.next() % 2000)
            }
            if sentenceStart, let first = word.first { word = first.uppercased() + word.dropFirst() }
            if !out.isEmpty && !out.hasSuffix("\n") { out += " " }
            out += word
            if rng.next() % 60 == 0 { out += "'s" }
            sentenceStart = false
            wordsInParagraph += 1
            switch rng.next() % 40 {
            case 0, 1, 2: out += "."; sentenceStart = true
            case 3, 4: out += ","
            case 5: out += ";"
            case 6: out += "?"; sentenceStart = true
            default: break
            }
            if sentenceStart, wordsInParagraph > 80, rng.next() % 3 == 0 {
                out += "\n\n"
                wordsInParagraph = 0
            }
        }
        return out
    }

    private static func made(_ rng: inout SeededGenerator) -> String {
        var word = ""
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            word += onsets[Int(rng.next() % UInt64(onsets.count))] + vowels[Int(rng.next() % UInt64(vowels.count))]
                + codas[Int(rng.next() % UInt64(codas.count))]
        }
        return word + endings[Int(rng.next() % UInt64(endings.count))]
    }
}
