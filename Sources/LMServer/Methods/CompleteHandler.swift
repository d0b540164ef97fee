import LMEngine
import LMProtocol

/// `complete`: generation, optionally streamed as `complete/delta` notifications before the response.
enum CompleteHandler {
    static let spec = MethodSpec(name: CompleteParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try CompleteParams(params)
        try p.validate(vocabSize: env.engine.info.vocabSize)
        if let cap = env.options.maxTokensPerRequest, p.maxTokens > cap {
            throw RPCError.invalidParams("max_tokens", "must be at most \(cap) on this server, not \(p.maxTokens)",
                                         extra: ["limit": .int(cap)])
        }
        let engine = env.engine
        let addPrefixSpace = p.addPrefixSpace ?? env.options.addPrefixSpace
        var options = GenerationOptions()
        options.maxTokens = p.maxTokens
        options.temperature = Float(p.temperature)
        options.topK = p.topK
        options.topP = p.topP.map { Float($0) }
        options.seed = p.seed
        options.stop = p.stop
        options.logprobs = p.logprobs
        let generationOptions = options
        return .queued(.model, inputParam: p.input.paramName) { ctx in
            let ids = p.input.tokenIDs(engine: engine, addPrefixSpace: addPrefixSpace)
            let generation = try engine.generate(ids: ids, options: generationOptions, cancel: ctx.cancel) { token in
                guard p.stream else { return }
                // The engine reports text it held back (an unfinished character, a possible stop string's
                // start) with id -1 when generation ends: a delta with text and no ids.
                let isToken = token.id >= 0
                let logprobs = p.logprobs > 0 ? (isToken ? [entry(token, engine: engine)] : []) : nil
                if !isToken && token.textDelta.isEmpty { return }
                ctx.notify(CompleteDelta(
                    requestID: ctx.requestID, ids: isToken ? [token.id] : [], text: token.textDelta, logprobs: logprobs
                ).notification)
            }
            let result = CompleteResult(
                ids: generation.ids, text: generation.text, finishReason: reason(generation.finishReason),
                truncated: generation.truncated,
                logprobs: p.logprobs > 0 ? generation.tokens.prefix(generation.ids.count).map { entry($0, engine: engine) } : nil)
            if generation.finishReason == .cancelled { throw PartialCancellation(partial: result.json) }
            return result
        }
    }

    static func reason(_ r: FinishReason) -> CompletionFinishReason {
        switch r {
        case .length: return .length
        case .stop: return .stop
        case .eos: return .eos
        case .cancelled: return .cancelled
        }
    }

    static func entry(_ t: GeneratedToken, engine: DispatchEngine) -> TokenLogprobs {
        TokenLogprobs(
            id: t.id, token: (try? engine.tokenText(t.id)) ?? "", logprob: t.logprob,
            top: t.top.map { TopLogprob(id: $0.id, token: $0.token, logprob: $0.logprob) })
    }
}
