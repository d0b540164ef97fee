import LMProtocol

/// `detokenize`: ids decoded together. Runs on the tokenizer lane.
enum DetokenizeHandler {
    static let spec = MethodSpec(name: DetokenizeParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try DetokenizeParams(params)
        try p.validate(vocabSize: env.engine.info.vocabSize)
        let engine = env.engine
        return .queued(.text, inputParam: "ids") { _ in DetokenizeResult(text: try engine.decode(p.ids)) }
    }
}
