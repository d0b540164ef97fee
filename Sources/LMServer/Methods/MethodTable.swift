import LMProtocol

/// Every wire method, in one table: adding a method means adding its handler file and one line here.
enum MethodTable {
    /// The methods the server answers.
    static let all: [MethodSpec] = [
        InfoHandler.spec,
        TokenizeHandler.spec,
        DetokenizeHandler.spec,
        ForwardHandler.spec,
        TopKHandler.spec,
        CompleteHandler.spec,
        SuggestHandler.spec,
        CancelRequestHandler.spec,
        ShutdownHandler.spec,
    ]

    /// The methods by name.
    static func index(_ specs: [MethodSpec]) -> [String: MethodSpec] {
        var map: [String: MethodSpec] = [:]
        for s in specs { map[s.name] = s }
        return map
    }
}
