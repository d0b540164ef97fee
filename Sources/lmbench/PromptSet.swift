import Foundation

/// How many runs each case gets.
struct RunPlan: Sendable {
    /// Runs of each short-prompt top-k case.
    var latencyRuns = 30
    /// Prompts per prefill length.
    var prefillRuns = 3
    /// Completions of 32 tokens.
    var decode32Runs = 3
    /// Completions of 256 tokens.
    var decode256Runs = 1
    /// Fresh 450-token prompts.
    var longPromptRuns = 5
    /// Words appended in the typing case.
    var keystrokes = 15
    /// Concurrent clients.
    var clients = 8
    /// Requests each concurrent client makes, one after another.
    var requestsPerClient = 4

    /// A short run: fewer repetitions of everything, the same cases.
    static let quick = RunPlan(
        latencyRuns: 8, prefillRuns: 1, decode32Runs: 1, decode256Runs: 1, longPromptRuns: 2, keystrokes: 15,
        clients: 8, requestsPerClient: 1)
}

/// Every prompt the cases use, as token ids, made once from a seeded word source so that the in-process
/// engine, the daemon and the comparison harness (`--dump-prompts`) see exactly the same tokens.
struct PromptSet: Sendable {
    /// The short prompt repeated by the "same prompt" case.
    var same: [Int]
    /// Fresh 4-word prompts, all different.
    var fresh: [[Int]]
    /// Prefill prompts by length (128, 512), each fresh.
    var prefill: [Int: [[Int]]]
    /// Prompts of the 32-token completions.
    var decode32: [[Int]]
    /// Prompts of the 256-token completions.
    var decode256: [[Int]]
    /// Fresh long prompts.
    var long: [[Int]]
    /// The typing case's starting context.
    var typingContext: [Int]
    /// The tokens each keystroke appends (a space and one word).
    var typingWords: [[Int]]
    /// Concurrent clients' prompts: one list per client.
    var concurrent: [[[Int]]]

    /// The two prefill lengths measured.
    static let prefillLengths = [128, 512]
    /// The length of the long prompts and the typing context.
    static let longLength = 450

    /// Prompts for `plan`, tokenized by `encode`; lengths over `maxLength` tokens are left empty.
    init(plan: RunPlan, maxLength: Int, encode: (String) -> [Int]) {
        var source = PromptSource(seed: 7)
        var seen = Set<[Int]>()
        func freshPhrase() -> [Int] {
            while true {
                let ids = encode(source.phrase(words: 4))
                if seen.insert(ids).inserted { return ids }
            }
        }
        func freshProse(tokens: Int) -> [Int] {
            guard tokens <= maxLength else { return [] }
            while true {
                let ids = Array(encode(source.prose(bytes: tokens * 8)).prefix(tokens))
                if ids.count == tokens, seen.insert(Array(ids.prefix(8))).inserted { return ids }
            }
        }
        same = encode("The quick brown fox")
        seen.insert(same)
        fresh = (0..<plan.latencyRuns).map { _ in freshPhrase() }
        prefill = Dictionary(uniqueKeysWithValues: Self.prefillLengths.map { length in
            (length, length <= maxLength ? (0..<plan.prefillRuns).map { _ in freshProse(tokens: length) } : [])
        })
        decode32 = (0..<plan.decode32Runs).map { _ in freshPhrase() }
        decode256 = (0..<plan.decode256Runs).map { _ in freshPhrase() }
        long = (0..<plan.longPromptRuns).map { _ in freshProse(tokens: Self.longLength) }.filter { !$0.isEmpty }
        typingContext = freshProse(tokens: Self.longLength)
        typingWords = (0..<plan.keystrokes).map { _ in encode(" " + source.word()) }
        concurrent = (0..<plan.clients).map { _ in (0..<plan.requestsPerClient).map { _ in freshPhrase() } }
    }

    /// The prompts as JSON, for a harness that replays them against another server.
    func jsonObject() -> [String: Any] {
        [
            "same": same,
            "fresh": fresh,
            "prefill": Dictionary(uniqueKeysWithValues: prefill.map { (String($0.key), $0.value) }),
            "decode32": decode32,
            "decode256": decode256,
            "long": long,
            "typing_context": typingContext,
            "typing_words": typingWords,
            "concurrent": concurrent,
        ]
    }
}
