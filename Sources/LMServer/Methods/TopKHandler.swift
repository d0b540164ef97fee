import LMEngine
import LMProtocol

/// `topk`: the k most likely next tokens. Too-long input keeps its most recent tokens (`truncated: true`).
enum TopKHandler {
    static let spec = MethodSpec(name: TopKParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try TopKParams(params)
        try p.validate(vocabSize: env.engine.info.vocabSize)
        let engine = env.engine
        let addPrefixSpace = p.addPrefixSpace ?? env.options.addPrefixSpace
        return .queued(.model, inputParam: p.input.paramName) { ctx in
            let ids = p.input.tokenIDs(engine: engine, addPrefixSpace: addPrefixSpace)
            let t = try engine.topK(ids: ids, k: p.k, cancel: ctx.cancel)
            return TopKResult(ids: t.ids, tokens: t.tokens, logits: t.logits, probs: t.probs, text: t.text, truncated: t.truncated)
        }
    }
}
