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
        let (context, truncated) = try fitContext(ids, room: options.maxTokens)
        let removedText = String(decoding: removed, as: UTF8.self)
        let partialWord = Self.trailingWord(of: text)

        let suggestions: [Suggestion] = try computeWithModel { model in
            let cache = model.makeCache(capacity: min(info.nPositions, context.count + options.maxTokens))
            let first = try model.forward(context, cache: cache, logits: .last, isCancelled: { cancel?.isCancelled ?? false })
            // The first token must start with the removed bytes; renormalise over those that do.
            let allowed = removed.isEmpty ? Array(0..<info.vocabSize) : tokensStarting(with: removed)
            let allowedLogits = allowed.map { first[$0] }
            let lse = allowedLogits.withUnsafeBufferPointer { TokenRanking.logSumExp($0) }
            let starts = allowedLogits.withUnsafeBufferPointer { TokenRanking.top($0, k: options.count) }.map { allowed[$0] }

            var out: [Suggestion] = []
            for start in starts {
                if cancel?.isCancelled == true { throw EngineError.cancelled }
                cache.truncate(to: context.count)
                var branch = [start]
                var bytes = Array((tokenizer.tokenBytes(start) ?? []).dropFirst(removed.count))
                var logprob = Float(Double(first[start]) - lse)
                while branch.count < options.maxTokens, !Self.ends(bytes, at: options.stopAt, partialWord: partialWord) {
                    if cache.count + 1 > cache.capacity { break }
                    let row = try model.forward([branch.last!], cache: cache, logits: .last, isCancelled: { cancel?.isCancelled ?? false })
                    let next = row.withUnsafeBufferPointer { TokenRanking.top($0, k: 1)[0] }
                    let nextBytes = tokenizer.tokenBytes(next) ?? []
                    if next == info.eosTokenId || !Self.continues(bytes, with: nextBytes, at: options.stopAt) { break }
                    logprob += row.withUnsafeBufferPointer { Float(Double($0[next]) - TokenRanking.logSumExp($0)) }
                    branch.append(next)
                    bytes += nextBytes
                }
                let insert = Self.cut(bytes, at: options.stopAt)
                let insertText = String(decoding: insert, as: UTF8.self)
                let label = (insert.first.map(Self.isWordByte) ?? true) ? partialWord + insertText : insertText
                out.append(Suggestion(
                    insert: insertText, label: label.trimmingCharacters(in: .whitespacesAndNewlines),
                    logprob: logprob, ids: branch))
            }
            return out
        }
        return Suggestions(suggestions: suggestions, healed: removedText, truncated: truncated)
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
    static func ends(_ bytes: [UInt8], at boundary: SuggestionBoundary, partialWord: String) -> Bool {
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
