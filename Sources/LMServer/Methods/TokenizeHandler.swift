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

    /// How given ids split the text they decode to. A token that ends inside a UTF-8 character (or inside
    /// bytes that decode to one U+FFFD) ends where that character starts; the token that completes it takes
    /// in the whole character. One pass over the tokens' raw bytes, decoded as `String(decoding:)` does:
    /// each valid scalar as itself, each maximal invalid subpart as U+FFFD.
    static func splitIDs(_ ids: [Int], engine: DispatchEngine, cancel: CancellationFlag) throws -> TokenizeResult {
        let text = try engine.decode(ids)
        var tokens: [String] = []
        var raw: [UInt8] = []
        var rawEnds: [Int] = []
        tokens.reserveCapacity(ids.count)
        rawEnds.reserveCapacity(ids.count)
        for k in ids.indices {
            if k % 1024 == 1023, cancel.isCancelled { throw EngineError.cancelled }
            tokens.append(try engine.tokenText(ids[k]))
            raw += try engine.tokenBytes(ids[k])
            rawEnds.append(raw.count)
        }
        var offsets: [Range<Int>] = []
        offsets.reserveCapacity(ids.count)
        var parser = Unicode.UTF8.ForwardParser()
        var input = raw.makeIterator()
        var rawPosition = 0, textPosition = 0, previous = 0, k = 0
        decoding: while true {
            let consumed: Int, produced: Int
            switch parser.parseScalar(from: &input) {
            case let .valid(encoded): consumed = encoded.count; produced = encoded.count
            case let .error(length): consumed = length; produced = 3  // U+FFFD
            case .emptyInput: break decoding
            }
            rawPosition += consumed
            textPosition += produced
            while k < ids.count, rawEnds[k] <= rawPosition {
                let end = rawEnds[k] == rawPosition ? textPosition : textPosition - produced
                offsets.append(previous..<max(previous, end))
                previous = max(previous, end)
                k += 1
            }
        }
        while k < ids.count { offsets.append(previous..<previous); k += 1 }
        return TokenizeResult(ids: ids, tokens: tokens, offsets: offsets, text: text)
    }
}
