import LMEngine
import LMProtocol

/// `suggest`: completions at a cursor, token-healed, each grown to a word or line boundary.
enum SuggestHandler {
    static let spec = MethodSpec(name: SuggestParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try SuggestParams(params)
        if let cap = env.options.maxTokensPerRequest, p.maxTokens > cap {
            throw RPCError.invalidParams("max_tokens", "must be at most \(cap) on this server, not \(p.maxTokens)",
                                         extra: ["limit": .int(cap)])
        }
        let engine = env.engine
        var options = SuggestionOptions()
        options.count = p.n
        options.maxTokens = p.maxTokens
        options.heal = p.heal
        options.addPrefixSpace = p.addPrefixSpace ?? env.options.addPrefixSpace
        switch p.stopAt {
        case .word: options.stopAt = .word
        case .line: options.stopAt = .line
        case .none: options.stopAt = .none
        }
        let settled = options
        return .queued(.model, inputParam: "text") { ctx in
            let s = try engine.suggest(text: p.text, options: settled, cancel: ctx.cancel)
            return SuggestResult(
                suggestions: s.suggestions.map { SuggestionItem(insert: $0.insert, label: $0.label, logprob: $0.logprob, ids: $0.ids) },
                healed: s.healed, truncated: s.truncated)
        }
    }
}
