import Foundation
import LMTokenizer
import TestSupport
import XCTest

/// The fixture tokenizers, loaded once for all tests (loading takes a noticeable fraction of a second).
enum TokenizerFixtures {
    /// GPT-2 loaded from `vocab.json` + `merges.txt`.
    static let fromVocabAndMerges: Result<GPT2Tokenizer, Error> = Result {
        try GPT2Tokenizer(vocabURL: Fixtures.tinyModel.appendingPathComponent("vocab.json"),
                          mergesURL: Fixtures.tinyModel.appendingPathComponent("merges.txt"))
    }

    /// GPT-2 loaded from `tokenizer.json`.
    static let fromTokenizerJSON: Result<GPT2Tokenizer, Error> = Result {
        try GPT2Tokenizer(tokenizerJSONURL: Fixtures.tinyModel.appendingPathComponent("tokenizer.json"))
    }

    /// The vocab + merges tokenizer, or a thrown error that fails the test.
    static func tokenizer() throws -> GPT2Tokenizer { try fromVocabAndMerges.get() }

    /// One line of `tokenizer-cases.jsonl`: a text and the ids HF's GPT2TokenizerFast gives it.
    struct Case {
        var line: Int
        var text: String
        var ids: [Int]
        var idsPrefixSpace: [Int]
        var idsSplitSpecial: [Int]
    }

    /// All the cases, in file order.
    static func cases() throws -> [Case] {
        try parseCases(String(contentsOf: Fixtures.tokenizerCases, encoding: .utf8))
    }

    /// Cases from JSON lines with `text`, `ids`, `ids_prefix_space` and `ids_split_special`.
    static func parseCases(_ text: String) throws -> [Case] {
        var cases: [Case] = []
        for (index, line) in text.split(separator: "\n").enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let object, let text = object["text"] as? String,
                  let ids = object["ids"] as? [Int], let prefix = object["ids_prefix_space"] as? [Int],
                  let split = object["ids_split_special"] as? [Int]
            else {
                throw NSError(domain: "TokenizerFixtures", code: 1,
                              userInfo: [NSLocalizedDescriptionKey: "bad fixture line \(index + 1)"])
            }
            cases.append(Case(line: index + 1, text: text, ids: ids, idsPrefixSpace: prefix, idsSplitSpecial: split))
        }
        return cases
    }
}
