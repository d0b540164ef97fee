/// `info` params: none (anything given is ignored).
public struct InfoParams: Hashable, Sendable {
    /// The method name.
    public static let method = "info"

    /// No params.
    public init() {}

    /// Accepts absent params or an object (its members are ignored).
    public init(_ params: JSONValue?) throws(RPCError) { _ = try ParamReader(params) }
}

/// `info` result: what model is loaded and which versions answer.
public struct InfoResult: WireResult, Hashable {
    /// The model's name.
    public var model: String
    /// Vocabulary size.
    public var vocabSize: Int
    /// Context limit in tokens.
    public var nPositions: Int
    /// Width.
    public var nEmbd: Int
    /// Blocks.
    public var nLayer: Int
    /// Attention heads.
    public var nHead: Int
    /// The dtype computed with.
    public var dtype: String
    /// The end-of-text token id.
    public var eosTokenId: Int
    /// The server's version.
    public var version: String
    /// The protocol's version.
    public var protocolVersion: Int

    /// A result (versions default to this build's).
    public init(
        model: String, vocabSize: Int, nPositions: Int, nEmbd: Int, nLayer: Int, nHead: Int, dtype: String,
        eosTokenId: Int, version: String = ProtocolVersion.server, protocolVersion: Int = ProtocolVersion.protocolVersion
    ) {
        self.model = model
        self.vocabSize = vocabSize
        self.nPositions = nPositions
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.dtype = dtype
        self.eosTokenId = eosTokenId
        self.version = version
        self.protocolVersion = protocolVersion
    }

    /// The result as JSON.
    public var json: JSONValue {
        [
            "model": .string(model), "vocab_size": .int(vocabSize), "n_positions": .int(nPositions),
            "n_embd": .int(nEmbd), "n_layer": .int(nLayer), "n_head": .int(nHead), "dtype": .string(dtype),
            "eos_token_id": .int(eosTokenId), "version": .string(version), "protocol_version": .int(protocolVersion),
        ]
    }

    /// Reads a result (for clients).
    public init?(json: JSONValue) {
        guard let model = json["model"]?.stringValue, let v = json["vocab_size"]?.intValue,
            let p = json["n_positions"]?.intValue, let e = json["n_embd"]?.intValue, let l = json["n_layer"]?.intValue,
            let h = json["n_head"]?.intValue, let dtype = json["dtype"]?.stringValue,
            let version = json["version"]?.stringValue, let pv = json["protocol_version"]?.intValue
        else { return nil }
        self.init(model: model, vocabSize: v, nPositions: p, nEmbd: e, nLayer: l, nHead: h, dtype: dtype,
                  eosTokenId: json["eos_token_id"]?.intValue ?? -1, version: version, protocolVersion: pv)
    }
}
