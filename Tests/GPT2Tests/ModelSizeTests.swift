import Foundation
import GPT2
import LMKernels
import XCTest

/// Every published GPT-2 size: its config.json parses to the right shape, its parameter count is the
/// known one, and the model runs on random weights — full size for distilgpt2 and gpt2, scaled down for
/// the larger ones (same width, head count, head width and block structure; one block, a smaller
/// vocabulary and context) so that a debug build stays quick.
final class ModelSizeTests: XCTestCase {
    /// One published model: its config.json as HF serves it, and what it must parse to.
    struct Size {
        var name: String
        var json: String
        var nLayer: Int
        var nEmbd: Int
        var nHead: Int
        var parameterCount: Int
        /// Run at full size (else scaled down).
        var fullSize: Bool
    }

    /// The config.json texts, as published (key order and unused keys included).
    static let sizes: [Size] = [
        Size(name: "distilgpt2", json: """
            {"_num_labels": 1, "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
             "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
             "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02, "label2id": {"LABEL_0": 0},
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
             "n_layer": 6, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
             "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
             "vocab_size": 50257}
            """, nLayer: 6, nEmbd: 768, nHead: 12, parameterCount: 81_912_576, fullSize: true),
        Size(name: "gpt2", json: """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
             "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
             "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
             "vocab_size": 50257}
            """, nLayer: 12, nEmbd: 768, nHead: 12, parameterCount: 124_439_808, fullSize: true),
        Size(name: "gpt2-medium", json: """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 1024, "n_head": 16,
             "n_layer": 24, "n_positions": 1024, "n_special": 0, "predict_special_tokens": true,
             "resid_pdrop": 0.1, "summary_activation": null, "summary_first_dropout": 0.1,
             "summary_proj_to_labels": true, "summary_type": "cls_index", "summary_use_proj": true,
             "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257}
            """, nLayer: 24, nEmbd: 1024, nHead: 16, parameterCount: 354_823_168, fullSize: false),
        Size(name: "gpt2-large", json: """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 1280, "n_head": 20,
             "n_layer": 36, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": true, "summary_type": "cls_index",
             "summary_use_proj": true, "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
             "vocab_size": 50257}
            """, nLayer: 36, nEmbd: 1280, nHead: 20, parameterCount: 774_030_080, fullSize: false),
        Size(name: "gpt2-xl", json: """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 1600, "n_head": 25,
             "n_layer": 48, "n_positions": 1024, "output_past": true, "resid_pdrop": 0.1,
             "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
             "summary_type": "cls_index", "summary_use_proj": true,
             "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257}
            """, nLayer: 48, nEmbd: 1600, nHead: 25, parameterCount: 1_557_611_200, fullSize: false),
    ]

    func testConfigsParseWithKnownParameterCounts() throws {
        for size in Self.sizes {
            let config = try GPT2Config(jsonData: Data(size.json.utf8), file: "\(size.name)/config.json")
            XCTAssertEqual(config.nLayer, size.nLayer, size.name)
            XCTAssertEqual(config.nEmbd, size.nEmbd, size.name)
            XCTAssertEqual(config.nHead, size.nHead, size.name)
            XCTAssertEqual(config.headDim, 64, size.name)
            XCTAssertEqual(config.nInner, 4 * size.nEmbd, size.name)
            XCTAssertEqual(config.vocabSize, 50257, size.name)
            XCTAssertEqual(config.nPositions, 1024, size.name)
            XCTAssertEqual(config.activation, .geluNew, size.name)
            XCTAssertTrue(config.tieWordEmbeddings, size.name)
            XCTAssertEqual(config.parameterCount, size.parameterCount, size.name)
        }
    }

    /// The config a size runs as here: itself, or scaled down to one block, a 512-token vocabulary and
    /// 64 positions, keeping n_embd, n_head (so head width 64) and n_inner.
    static func runConfig(_ size: Size) throws -> GPT2Config {
        var config = try GPT2Config(jsonData: Data(size.json.utf8))
        if !size.fullSize {
            config.nLayer = 1
            config.vocabSize = 512
            config.nPositions = 64
        }
        return config
    }

    // Debug-build timings on the 2-core machine (random weights + passes), measured when written:
    // distilgpt2 ≈ 7 s, gpt2 ≈ 11 s, the three scaled sizes ≈ 6 s together. The passes dominate (the
    // kernels are unoptimised in debug), so each runs three tokens only.

    func testDistilGPT2FullSize() throws {
        try run(Self.sizes[0])
    }

    func testGPT2FullSize() throws {
        try run(Self.sizes[1])
    }

    func testLargerSizesScaledDown() throws {
        for size in Self.sizes[2...] { try run(size) }
    }

    /// Random weights for `size`; one pass over three tokens with every row's logits, and the same tokens
    /// through the KV cache (one, then one at a time): finite, and the same rows.
    private func run(_ size: Size) throws {
        let config = try Self.runConfig(size)
        let tokens = [464, 2068, 7586].map { $0 % config.vocabSize }
        let start = Date()
        let weights = GPT2Weights.random(config: config, seed: 7)
        let made = Date()
        let model = GPT2Model(weights: weights, kernels: Kernels(threads: 2))

        let full = try model.forward(tokens, cache: model.makeCache(), logits: .all)
        XCTAssertEqual(full.count, tokens.count * config.vocabSize, size.name)
        XCTAssertTrue(full.allSatisfy(\.isFinite), "\(size.name): non-finite logits")

        let cache = model.makeCache()
        var rows = try model.forward([tokens[0]], cache: cache, logits: .all)
        for token in tokens[1...] {
            rows += try model.forward([token], cache: cache, logits: .last)
        }
        XCTAssertEqual(cache.count, tokens.count, size.name)
        XCTAssertEqual(rows.count, full.count, size.name)
        let diff = zip(full, rows).map { abs($0 - $1) }.max() ?? .infinity
        let scale = full.map(abs).max() ?? 0
        let done = Date()
        let shape = size.fullSize ? "" : " (scaled: 1 block, V 512)"
        print("\(size.name)\(shape): \(config.parameterCount) parameters, random weights "
              + "\(String(format: "%.2f", made.timeIntervalSince(start))) s, passes \(String(format: "%.2f", done.timeIntervalSince(made))) s; "
              + "cached vs full max |diff| \(diff) (max |logit| \(scale))")
        XCTAssertGreaterThan(scale, 0, size.name)
        XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1), size.name)
    }
}
