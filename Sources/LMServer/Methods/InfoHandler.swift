import LMProtocol

/// `info`: answered at once, never behind model work.
enum InfoHandler {
    static let spec = MethodSpec(name: InfoParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        _ = try InfoParams(params)
        let i = env.engine.info
        let result = InfoResult(
            model: i.model, vocabSize: i.vocabSize, nPositions: i.nPositions, nEmbd: i.nEmbd, nLayer: i.nLayer,
            nHead: i.nHead, dtype: i.dtype, eosTokenId: i.eosTokenId)
        return .immediate(result.json)
    }
}
