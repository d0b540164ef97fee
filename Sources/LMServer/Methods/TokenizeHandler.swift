import LMEngine
import LMProtocol

/// `tokenize`: ids, each token's text and its byte range. Runs on the tokenizer lane.
enum TokenizeHandler {
    static let spec = MethodSpec(name: TokenizeParams.method, runsAsNotification: false) { params, env throws(RPCError) in
        let p = try TokenizeParams(params)
        try p.validate(vocabSize: env.engine.info.vocabSize)
        let engine = env.engine
        let addPrefixSpace = p.addPrefixSpace ?? env.options.addPrefixSpace
        return .queued(.text, inputParam: p.input.paramName) { ctx in
            switch p.input {
            case let .text(text):
                let spans = engine.tokenize(text, addPrefixSpace: addPrefixSpace)
                return TokenizeResult(ids: spans.map(\.id), tokens: spans.map(\.text), offsets: spans.map { $0.start..<$0.end })
            case let .ids(ids):
                return try splitIDs(ids, engine: engine, cancel: ctx.cancel)
            }
        }
    }

    /// How given ids split the text they decode to. A token that ends inside a UTF-8 character ends where
    /// that character starts; the next token's range takes in the whole character. Each id is decoded
    /// together with the ids since the last clean character boundary, so the cost stays linear.
    static func splitIDs(_ ids: [Int], engine: DispatchEngine, cancel: CancellationFlag) throws -> TokenizeResult {
        let text = try engine.decode(ids)
        let full = Array(text.utf8)
        var tokens: [String] = []
        var offsets: [Range<Int>] = []
        tokens.reserveCapacity(ids.count)
        offsets.reserveCapacity(ids.count)
        var windowStart = 0, windowOffset = 0, previousEnd = 0
        for k in ids.indices {
            if k % 1024 == 1023, cancel.isCancelled { throw EngineError.cancelled }
            tokens.append(try engine.tokenText(ids[k]))
            let window = Array(try engine.decode(Array(ids[windowStart...k])).utf8)
            var m = 0
            while m < window.count, windowOffset + m < full.count, window[m] == full[windowOffset + m] { m += 1 }
            let end = max(windowOffset + m, previousEnd)
            offsets.append(previousEnd..<end)
            previousEnd = end
            if m == window.count {
                windowStart = k + 1
                windowOffset += m
            }
        }
        return TokenizeResult(ids: ids, tokens: tokens, offsets: offsets, text: text)
    }
}
