import Foundation
import LMKernels

/// A GPT-2-family model's hyperparameters, as Hugging Face's `config.json` gives them.
public struct GPT2Config: Sendable, Equatable {
    /// Tokens in the vocabulary (`vocab_size`).
    public var vocabSize: Int
    /// Longest context: rows of the position table (`n_positions`, or `n_ctx` in old configs).
    public var nPositions: Int
    /// Width of the residual stream (`n_embd`).
    public var nEmbd: Int
    /// Transformer blocks (`n_layer`).
    public var nLayer: Int
    /// Attention heads per block (`n_head`).
    public var nHead: Int
    /// Width of the MLP's hidden layer: `n_inner`, or 4 × `n_embd` when null.
    public var nInner: Int
    /// LayerNorm's epsilon (`layer_norm_epsilon`).
    public var layerNormEpsilon: Float
    /// The MLP nonlinearity (`activation_function`).
    public var activation: Activation
    /// Divide attention scores by √headDim (`scale_attn_weights`).
    public var scaleAttnWeights: Bool
    /// Also divide attention scores by (layer index + 1) (`scale_attn_by_inverse_layer_idx`).
    public var scaleAttnByInverseLayerIdx: Bool
    /// Compute attention scores in float32 with the scale applied first (`reorder_and_upcast_attn`).
    public var reorderAndUpcastAttn: Bool
    /// The output head is the token embedding (`tie_word_embeddings`).
    public var tieWordEmbeddings: Bool
    /// Beginning-of-text token (`bos_token_id`).
    public var bosTokenId: Int
    /// End-of-text token (`eos_token_id`).
    public var eosTokenId: Int

    /// Width of one attention head.
    public var headDim: Int { nEmbd / nHead }

    /// Number of weights: wte + wpe + blocks + ln_f, plus lm_head when it is not tied to wte.
    public var parameterCount: Int {
        let c = nEmbd, i = nInner
        let block = 2 * c            // ln_1
            + c * 3 * c + 3 * c      // attn.c_attn
            + c * c + c              // attn.c_proj
            + 2 * c                  // ln_2
            + c * i + i              // mlp.c_fc
            + i * c + c              // mlp.c_proj
        let embeddings = vocabSize * c + nPositions * c
        let head = tieWordEmbeddings ? 0 : vocabSize * c
        return embeddings + nLayer * block + 2 * c + head
    }

    /// A config from values; the defaults are those of HF's `GPT2Config()` (the 124M gpt2).
    public init(
        vocabSize: Int = 50257, nPositions: Int = 1024, nEmbd: Int = 768, nLayer: Int = 12, nHead: Int = 12,
        nInner: Int? = nil, layerNormEpsilon: Float = 1e-5, activation: Activation = .geluNew,
        scaleAttnWeights: Bool = true, scaleAttnByInverseLayerIdx: Bool = false, reorderAndUpcastAttn: Bool = false,
        tieWordEmbeddings: Bool = true, bosTokenId: Int = 50256, eosTokenId: Int = 50256
    ) {
        self.vocabSize = vocabSize
        self.nPositions = nPositions
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.nInner = nInner ?? 4 * nEmbd
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
        self.scaleAttnWeights = scaleAttnWeights
        self.scaleAttnByInverseLayerIdx = scaleAttnByInverseLayerIdx
        self.reorderAndUpcastAttn = reorderAndUpcastAttn
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    /// Reads `config.json` at `url`; throws `GPT2LoadError` (missing file, bad JSON, unsupported value).
    public static func load(from url: URL) throws -> GPT2Config {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw GPT2LoadError.missingFile(path: url.path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw GPT2LoadError.malformedConfig(file: url.path, reason: "cannot read it (\(error.localizedDescription))")
        }
        return try GPT2Config(jsonData: data, file: url.path)
    }

    /// Parses a `config.json`'s bytes; `file` names it in errors. Keys this model does not use are
    /// ignored; absent (or null) keys take HF's defaults; values it cannot honour are refused.
    public init(jsonData: Data, file: String = "config.json") throws {
        let json: [String: ConfigValue]
        do {
            json = try JSONDecoder().decode([String: ConfigValue].self, from: jsonData)
        } catch {
            throw GPT2LoadError.malformedConfig(file: file, reason: "not a JSON object")
        }
        let reader = ConfigReader(json: json, file: file)

        if let modelType = try reader.string("model_type"), modelType != "gpt2" {
            throw reader.refuse("model_type", "only \"gpt2\" models are supported")
        }
        if try reader.bool("add_cross_attention") == true {
            throw reader.refuse("add_cross_attention", "cross-attention (encoder-decoder) is not supported")
        }
        let nEmbd = try reader.int("n_embd", range: 1...(1 << 20)) ?? 768
        let nHead = try reader.int("n_head", range: 1...(1 << 20)) ?? 12
        guard nEmbd % nHead == 0 else {
            throw reader.refuse("n_head", "n_embd = \(nEmbd) must be divisible by n_head")
        }
        let nPositions = try reader.int("n_positions", range: 1...(1 << 24)) ?? reader.int("n_ctx", range: 1...(1 << 24)) ?? 1024

        var activation = Activation.geluNew
        if let name = try reader.string("activation_function") {
            switch name {
            case "gelu_new", "gelu_pytorch_tanh": activation = .geluNew
            case "gelu": activation = .gelu
            case "relu": activation = .relu
            default: throw reader.refuse("activation_function", "supported: gelu_new, gelu_pytorch_tanh, gelu, relu")
            }
        }

        self.init(
            vocabSize: try reader.int("vocab_size", range: 1...(1 << 24)) ?? 50257,
            nPositions: nPositions,
            nEmbd: nEmbd,
            nLayer: try reader.int("n_layer", range: 1...(1 << 12)) ?? 12,
            nHead: nHead,
            nInner: try reader.int("n_inner", range: 1...(1 << 22)),
            layerNormEpsilon: try reader.positiveFloat("layer_norm_epsilon") ?? 1e-5,
            activation: activation,
            scaleAttnWeights: try reader.bool("scale_attn_weights") ?? true,
            scaleAttnByInverseLayerIdx: try reader.bool("scale_attn_by_inverse_layer_idx") ?? false,
            reorderAndUpcastAttn: try reader.bool("reorder_and_upcast_attn") ?? false,
            tieWordEmbeddings: try reader.bool("tie_word_embeddings") ?? true,
            bosTokenId: try reader.int("bos_token_id", range: 0...Int(Int32.max)) ?? 50256,
            eosTokenId: try reader.int("eos_token_id", range: 0...Int(Int32.max)) ?? 50256
        )
    }
}

/// A JSON value, decoded strictly enough to tell `true` from `1` and `1` from `1.5`.
enum ConfigValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), int(Int), number(Double), string(String), array([ConfigValue]), object([String: ConfigValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ConfigValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ConfigValue].self)) }
    }

    /// The value as JSON-ish text, for error messages.
    var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "\(i)"
        case let .number(d): return "\(d)"
        case let .string(s): return "\"\(s)\""
        case let .array(a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object: return "{…}"
        }
    }
}

/// Typed, checked access to config keys; null counts as absent (HF writes `"n_inner": null`).
private struct ConfigReader {
    let json: [String: ConfigValue]
    let file: String

    func refuse(_ key: String, _ reason: String) -> GPT2LoadError {
        .unsupportedConfig(file: file, key: key, value: json[key]?.description ?? "absent", reason: reason)
    }

    private func present(_ key: String) -> ConfigValue? {
        guard let value = json[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let value = present(key) else { return nil }
        let n: Int
        switch value {
        case let .int(i): n = i
        case let .number(d) where d.rounded() == d && abs(d) < 1e15: n = Int(d)
        default: throw refuse(key, "expected an integer")
        }
        guard range.contains(n) else { throw refuse(key, "expected an integer in \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = present(key) else { return nil }
        guard case let .bool(b) = value else { throw refuse(key, "expected true or false") }
        return b
    }

    func string(_ key: String) throws -> String? {
        guard let value = present(key) else { return nil }
        guard case let .string(s) = value else { throw refuse(key, "expected a string") }
        return s
    }

    func positiveFloat(_ key: String) throws -> Float? {
        guard let value = present(key) else { return nil }
        let d: Double
        switch value {
        case let .int(i): d = Double(i)
        case let .number(x): d = x
        default: throw refuse(key, "expected a number")
        }
        guard d > 0, d.isFinite, Float(d) > 0 else { throw refuse(key, "expected a positive number") }
        return Float(d)
    }
}
