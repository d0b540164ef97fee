import Foundation

/// Where a suggestion stops growing.
public enum SuggestionBoundary: String, Sendable, CaseIterable {
    /// At the end of the word the cursor is in (or the next word, when the cursor is after a space).
    case word
    /// At the end of the line.
    case line
    /// Only at `maxTokens`.
    case none
}

/// Options of `suggest`.
public struct SuggestionOptions: Sendable {
    /// How many suggestions at most.
    public var count: Int = 5
    /// Tokens per suggestion at most.
    public var maxTokens: Int = 8
    /// Where suggestions stop.
    public var stopAt: SuggestionBoundary = .word
    /// Back off the token the cursor splits and require the continuation to start with its bytes.
    public var heal: Bool = true
    /// Tokenize with a prefix space.
    public var addPrefixSpace: Bool = false

    /// Five word suggestions, healed.
    public init() {}
}

/// One completion at the cursor.
public struct Suggestion: Sendable, Equatable {
    /// Exactly what to type at the cursor.
    public var insert: String
    /// The whole word or words, as a menu shows them.
    public var label: String
    /// Log-probability of the suggestion's tokens (the first renormalised over the tokens healing allows).
    public var logprob: Float
    /// The new tokens (the first one includes the bytes healing took back).
    public var ids: [Int]
}

/// The result of `suggest`.
public struct Suggestions: Sendable {
    /// Best first.
    public var suggestions: [Suggestion]
    /// The bytes healing took back from the end of the text ("" without healing).
    public var healed: String
    /// True when the context was cut to fit.
    public var truncated: Bool
}

extension Engine {
    /// Completions for the text before a cursor: the `count` most likely first tokens (that agree with
    /// what was typed), each extended greedily to a word or line boundary, sharing one context pass.
    public func suggest(text: String, options: SuggestionOptions, cancel: CancellationFlag? = nil) throws -> Suggestions {
        guard options.count >= 1, options.count <= 100 else {
            throw EngineError.invalidArgument(name: "n", reason: "must be between 1 and 100")
        }
        guard options.maxTokens >= 1, options.maxTokens <= 256 else {
            throw EngineError.invalidArgument(name: "max_tokens", reason: "must be between 1 and 256")
        }
        var ids = encode(text, addPrefixSpace: options.addPrefixSpace)
        // Healing: the last token is a fragment the model rarely saw ("we" of "were", a lone trailing
        // space); take it back and let the model choose a token that starts with the same bytes.
        var removed: [UInt8] = []
        if options.heal, let last = ids.last {
            removed = tokenizer.tokenBytes(last) ?? []
            ids.removeLast()
        }
        let (context, truncated) = try fitContext(ids, room: min(options.maxTokens, info.nPositions / 2))
        let removedText = String(decoding: removed, as: UTF8.self)
        let partialWord = Self.trailingWord(of: text)

        // One pass over the context (prefix-cached), then the branches grow side by side, batched.
        let cache = prefixCache.checkout(for: context)
        defer { prefixCache.checkin(cache) }
        var first: [Float] = []
        try scheduler.run([SequenceJob(cache: cache, feed: Array(context[cache.count...]), rows: .last, cancel: cancel) {
            first = $0; return nil
        }])
        // The first token must start with the removed bytes; renormalise over those that do.
        let allowed = removed.isEmpty ? Array(0..<min(info.vocabSize, tokenizer.vocabularySize)) : tokensStarting(with: removed)
        let allowedLogits = allowed.map { first[$0] }
        let lse = allowedLogits.withUnsafeBufferPointer { TokenRanking.logSumExp($0) }
        let starts = allowedLogits.withUnsafeBufferPointer { TokenRanking.top($0, k: options.count) }.map { allowed[$0] }

        var branches = starts.map { start in
            Branch(ids: [start], bytes: Array((tokenizer.tokenBytes(start) ?? []).dropFirst(removed.count)),
                   logprob: Float(Double(first[start]) - lse))
        }
        var jobs: [SequenceJob] = []
        for (b, branch) in branches.enumerated()
        where branch.ids.count < options.maxTokens && !Self.ends(branch.bytes, at: options.stopAt) {
            // The first branch extends the checked-out cache; the others extend copies of the context.
            let branchCache = jobs.isEmpty ? cache : cache.copy(prefix: context.count)
            guard branchCache.count + 1 < branchCache.capacity else { continue }
            jobs.append(SequenceJob(cache: branchCache, feed: [branch.ids[0]], rows: .last, cancel: cancel) { row in
                let next = row.withUnsafeBufferPointer { TokenRanking.top($0, k: 1)[0] }
                let nextBytes = self.tokenizer.tokenBytes(next) ?? []
                if next == self.info.eosTokenId || !Self.continues(branches[b].bytes, with: nextBytes, at: options.stopAt) {
                    return nil
                }
                branches[b].logprob += row.withUnsafeBufferPointer { Float(Double($0[next]) - TokenRanking.logSumExp($0)) }
                branches[b].ids.append(next)
                branches[b].bytes += nextBytes
                let done = branches[b].ids.count >= options.maxTokens || Self.ends(branches[b].bytes, at: options.stopAt)
                    || branchCache.count + 1 >= branchCache.capacity
                return done ? nil : [next]
            })
        }
        try scheduler.run(jobs)
        let suggestions = branches.map { branch -> Suggestion in
            let insert = Self.cut(branch.bytes, at: options.stopAt)
            let insertText = String(decoding: insert, as: UTF8.self)
            let label = (insert.first.map(Self.isWordByte) ?? true) ? partialWord + insertText : insertText
            return Suggestion(
                insert: insertText, label: label.trimmingCharacters(in: .whitespacesAndNewlines),
                logprob: branch.logprob, ids: branch.ids)
        }
        return Suggestions(suggestions: suggestions, healed: removedText, truncated: truncated)
    }

    /// A suggestion while it grows.
    struct Branch {
        var ids: [Int]
        var bytes: [UInt8]
        var logprob: Float
    }

    /// Ids whose bytes begin with `prefix`.
    func tokensStarting(with prefix: [UInt8]) -> [Int] {
        (0..<min(info.vocabSize, tokenizer.vocabularySize)).filter { id in
            guard let b = tokenizer.tokenBytes(id), b.count >= prefix.count else { return false }
            return b.starts(with: prefix)
        }
    }

    /// Letters, digits, underscore, apostrophe and any non-ASCII byte continue a word.
    static func isWordByte(_ b: UInt8) -> Bool {
        b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x27
    }

    /// The word characters just before the cursor.
    static func trailingWord(of text: String) -> String {
        let bytes = Array(text.utf8)
        var i = bytes.count
        while i > 0, isWordByte(bytes[i - 1]) { i -= 1 }
        return String(decoding: bytes[i...], as: UTF8.self)
    }

    /// Whether a suggestion's bytes already reach its boundary.
    static func ends(_ bytes: [UInt8], at boundary: SuggestionBoundary) -> Bool {
        switch boundary {
        case .none: return false
        case .line: return bytes.contains(0x0A)
        case .word:
            // Ended once a word has begun and something other than a word byte follows it.
            guard let firstWord = bytes.firstIndex(where: isWordByte) else { return false }
            return bytes[firstWord...].contains { !isWordByte($0) }
        }
    }

    /// Whether appending a token keeps the suggestion within its boundary.
    static func continues(_ bytes: [UInt8], with next: [UInt8], at boundary: SuggestionBoundary) -> Bool {
        switch boundary {
        case .none: return true
        case .line: return !bytes.contains(0x0A)
        case .word:
            // Before any word byte, anything (spaces, punctuation) may lead in; after, only word bytes.
            guard bytes.contains(where: isWordByte) else { return true }
            return next.first.map(isWordByte) ?? false
        }
    }

    /// The bytes up to the boundary.
    static func cut(_ bytes: [UInt8], at boundary: SuggestionBoundary) -> [UInt8] {
        switch boundary {
        case .none: return bytes
        case .line: return Array(bytes.prefix { $0 != 0x0A })
        case .word:
            guard let firstWord = bytes.firstIndex(where: isWordByte) else { return bytes }
            let end = bytes[firstWord...].firstIndex { !isWordByte($0) } ?? bytes.count
            return Array(bytes[..<end])
        }
    }
}
