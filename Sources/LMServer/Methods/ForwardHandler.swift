import LMEngine
import LMProtocol

/// `forward`: logits of every (or the last) position. Input longer than the context is refused (-32602).
enum ForwardHandler {
    static let spec = MethodSpec(name: ForwardParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try ForwardParams(params)
        let info = env.engine.info
        try p.validate(vocabSize: info.vocabSize)
        if case let .ids(ids) = p.input, ids.count > info.nPositions {
            // Known before queueing: answer now rather than after other work.
            throw EngineErrorMapping.rpcError(.contextTooLong(length: ids.count, limit: info.nPositions), inputParam: "ids")
        }
        let engine = env.engine
        let addPrefixSpace = p.addPrefixSpace ?? env.options.addPrefixSpace
        let positions: LogitPositions
        switch p.positions {
        case .all: positions = .all
        case .last: positions = .last
        }
        return .queued(.model, inputParam: p.input.paramName) { ctx in
            let ids = p.input.tokenIDs(engine: engine, addPrefixSpace: addPrefixSpace)
            let logits = try engine.forward(ids: ids, positions: positions, cancel: ctx.cancel)
            return ForwardResult(
                ids: logits.ids, rows: logits.rows, columns: logits.vocabSize, values: logits.values, encoding: p.encoding)
        }
    }
}
