import Foundation
import GPT2
import LMKernels
import TestSupport
import XCTest

final class ConfigTests: XCTestCase {
    override func tearDown() {
        LoaderFixtures.removeTemporaryDirectories()
        super.tearDown()
    }

    /// distilgpt2's config.json as published (trimmed of keys the loader ignores).
    private let distilgpt2 = """
        {"_num_labels": 1, "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
         "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
         "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024,
         "n_embd": 768, "n_head": 12, "n_layer": 6, "n_positions": 1024, "resid_pdrop": 0.1,
         "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
         "summary_type": "cls_index", "summary_use_proj": true, "vocab_size": 50257}
        """

    /// gpt2's config.json as published.
    private let gpt2 = """
        {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
         "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
         "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
         "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
         "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
         "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
         "vocab_size": 50257}
        """

    func testTinyFixtureConfig() throws {
        let config = try GPT2Config.load(from: Fixtures.tinyModel.appendingPathComponent("config.json"))
        XCTAssertEqual(config.nEmbd, 32)
        XCTAssertEqual(config.nLayer, 2)
        XCTAssertEqual(config.nHead, 4)
        XCTAssertEqual(config.headDim, 8)
        XCTAssertEqual(config.nPositions, 128)
        XCTAssertEqual(config.vocabSize, 50257)
        XCTAssertEqual(config.nInner, 128)  // n_inner: null → 4 × n_embd
        XCTAssertEqual(config.layerNormEpsilon, 1e-5)
        XCTAssertEqual(config.activation, .geluNew)
        XCTAssertTrue(config.tieWordEmbeddings)
        XCTAssertTrue(config.scaleAttnWeights)
        XCTAssertFalse(config.scaleAttnByInverseLayerIdx)
        XCTAssertFalse(config.reorderAndUpcastAttn)
        XCTAssertEqual(config.eosTokenId, 50256)
        XCTAssertEqual(config.bosTokenId, 50256)
    }

    func testParameterCounts() throws {
        let distil = try GPT2Config(jsonData: Data(distilgpt2.utf8))
        XCTAssertEqual(distil.nLayer, 6)
        XCTAssertEqual(distil.parameterCount, 81_912_576)
        let small = try GPT2Config(jsonData: Data(gpt2.utf8))
        XCTAssertEqual(small.parameterCount, 124_439_808)
        XCTAssertEqual(GPT2Config().parameterCount, 124_439_808)
        var untied = small
        untied.tieWordEmbeddings = false
        XCTAssertEqual(untied.parameterCount, 124_439_808 + 50257 * 768)

        // The tiny fixture: the sum of its tensors' sizes, counted by the independent reader.
        let (header, _) = try LoaderReference.parse(LoaderFixtures.tinyModelFile)
        let stored = header.filter { $0.key != "__metadata__" }.values
            .map { (($0 as! [String: Any])["shape"] as! [Int]).reduce(1, *) }.reduce(0, +)
        let tiny = try GPT2Config.load(from: LoaderFixtures.tinyConfigFile)
        XCTAssertEqual(tiny.parameterCount, stored)
    }

    func testDefaultsAndAlternativeSpellings() throws {
        XCTAssertEqual(try GPT2Config(jsonData: Data("{}".utf8)), GPT2Config())
        let c = try GPT2Config(jsonData: Data("""
            {"n_ctx": 256, "n_embd": 64, "n_head": 2, "n_inner": 100, "activation_function": "gelu_pytorch_tanh",
             "tie_word_embeddings": false, "scale_attn_by_inverse_layer_idx": true, "eos_token_id": 7,
             "layer_norm_epsilon": 1, "n_layer": 3.0}
            """.utf8))
        XCTAssertEqual(c.nPositions, 256)
        XCTAssertEqual(c.nInner, 100)
        XCTAssertEqual(c.activation, .geluNew)
        XCTAssertFalse(c.tieWordEmbeddings)
        XCTAssertTrue(c.scaleAttnByInverseLayerIdx)
        XCTAssertEqual(c.eosTokenId, 7)
        XCTAssertEqual(c.layerNormEpsilon, 1)
        XCTAssertEqual(c.nLayer, 3)
        XCTAssertEqual(try GPT2Config(jsonData: Data(#"{"activation_function": "gelu"}"#.utf8)).activation, .gelu)
        XCTAssertEqual(try GPT2Config(jsonData: Data(#"{"activation_function": "relu"}"#.utf8)).activation, .relu)
        XCTAssertEqual(try GPT2Config(jsonData: Data(#"{"n_positions": 64, "n_ctx": 32}"#.utf8)).nPositions, 64)
    }

    func testRefusedValuesNameKeyAndValue() throws {
        let cases: [(json: String, key: String, value: String)] = [
            (#"{"activation_function": "swish"}"#, "activation_function", "swish"),
            (#"{"model_type": "llama"}"#, "model_type", "llama"),
            (#"{"add_cross_attention": true}"#, "add_cross_attention", "true"),
            (#"{"n_embd": 30, "n_head": 4}"#, "n_head", "4"),
            (#"{"n_layer": "12"}"#, "n_layer", "12"),
            (#"{"n_layer": 1.5}"#, "n_layer", "1.5"),
            (#"{"n_layer": true}"#, "n_layer", "true"),
            (#"{"vocab_size": 0}"#, "vocab_size", "0"),
            (#"{"n_embd": -768}"#, "n_embd", "-768"),
            (#"{"n_head": 1e300}"#, "n_head", "1e+300"),
            (#"{"scale_attn_weights": 1}"#, "scale_attn_weights", "1"),
            (#"{"tie_word_embeddings": "yes"}"#, "tie_word_embeddings", "yes"),
            (#"{"layer_norm_epsilon": -1}"#, "layer_norm_epsilon", "-1"),
            (#"{"layer_norm_epsilon": "small"}"#, "layer_norm_epsilon", "small"),
            (#"{"activation_function": 3}"#, "activation_function", "3"),
            (#"{"eos_token_id": [50256]}"#, "eos_token_id", "50256"),
        ]
        for c in cases {
            LoaderFixtures.expectError(try GPT2Config(jsonData: Data(c.json.utf8), file: "my/config.json"),
                                       file: "my/config.json", key: c.key) {
                if case let .unsupportedConfig(_, key, _, _) = $0 { return key == c.key }
                return false
            }
            do {
                _ = try GPT2Config(jsonData: Data(c.json.utf8))
            } catch {
                XCTAssertTrue("\(error)".contains(c.value), "value \(c.value) not in: \(error)")
            }
        }
    }

    func testNotJSONObject() {
        for text in ["not json", "[1, 2]", ""] {
            LoaderFixtures.expectError(try GPT2Config(jsonData: Data(text.utf8), file: "x/config.json"),
                                       file: "x/config.json", key: nil) {
                if case .malformedConfig = $0 { return true }
                return false
            }
        }
    }

    func testMissingConfigFile() throws {
        let dir = try LoaderFixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("config.json")
        LoaderFixtures.expectError(try GPT2Config.load(from: url), file: url.path, key: nil) {
            if case .missingFile = $0 { return true }
            return false
        }
    }
}
