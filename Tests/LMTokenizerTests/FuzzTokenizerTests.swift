import TestSupport
import LMTokenizer
import XCTest

/// Seeded fuzzing of the tokenizer (issue "Reliability and security", item 4): for any valid Unicode
/// text, decode(encode(text)) is the text byte for byte, and the offsets are monotone, in bounds and
/// cover the text, in every mode. A fixed number of cases unless `LMD_FUZZ_SECONDS` is set; see
/// fuzz/README.md.
final class FuzzTokenizerTests: XCTestCase {
    /// Kinds of text a tokenizer meets, by the class of scalar the pre-tokenizer cares about.
    static let kinds: [[String]] = [
        ["a", "Hello", "the", "WORLD", "x", " ", "  ", " the", "ing", "Zz"],  // ASCII words and spaces
        ["é", "ñ", "Ünïcödé", "ß", "Ø", "œ", "ĳ", "ǅ", "ℌ", "ﬁ"],  // Latin, with titlecase and ligatures
        ["日本語", "中文", "한국어", "ｶﾀｶﾅ", "ひらがな", "\u{3000}", "。", "龘"],  // CJK, fullwidth
        ["😀", "👍🏽", "👩\u{200D}👩\u{200D}👧\u{200D}👦", "🏳\u{FE0F}\u{200D}🌈", "🇫🇷", "🇺🇸🇯🇵", "❤\u{FE0F}", "\u{1F9D1}\u{200D}\u{1F4BB}"],
        ["e\u{301}", "\u{301}", "\u{302}\u{303}", "a\u{20DD}", "\u{0951}", "\u{094D}", "\u{FE0F}", "\u{200D}", "\u{200C}"],
        [" ", "\t", "\n", "\r\n", "\u{B}", "\u{C}", "\u{85}", "\u{A0}", "\u{1680}", "\u{2003}", "\u{2028}", "\u{2029}",
         "\u{202F}", "\u{205F}", "\u{3000}", "\u{200B}", "\u{FEFF}", "\u{1C}", "   \n  "],
        ["0", "42", "2024", "3.14", "1,000", "٣", "٤٥", "０１", "²", "½", "Ⅻ", "𝟙"],  // digits of every kind
        ["!", "?!", ".", ",", "...", "…", "—", "«", "»", "(", ")", "{}", "#", "@", "$", "%", "&&", "->", "'", "\"", "`", "~"],
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't", "''"],  // contractions
        ["<|endoftext|>", "<|endoftext|>", "<|", "|>", "<|endof", "text|>", "<|endoftext|", "<<|endoftext|>>",
         "<|ENDOFTEXT|>", "<| endoftext |>"],
        ["\u{0}", "\u{7F}", "\u{E000}", "\u{FFFD}", "\u{FFFE}", "\u{FFFF}", "\u{10FFFF}", "\u{1D400}", "\u{32531}",
         "\u{E0041}", "\u{1}"],  // controls, private use, noncharacters, unassigned
        ["Ωμέγα", "привет", "مرحبا", "שלום", "नमस्ते", "ไทย", "ქართ"],  // other scripts
    ]

    /// A random valid Unicode string: pieces of every kind, random scalars, and long runs.
    static func text(_ rng: inout FuzzRandom) -> String {
        var s = ""
        for _ in 0..<rng.int(0...24) {
            switch rng.int(0...19) {
            case 0..<15:
                s += rng.pick(rng.pick(kinds))
            case 15, 16:  // any scalar at all (surrogate values are not scalars and are skipped)
                let limit = rng.chance(0.5) ? 0x7FF : 0x10FFFF
                if let scalar = Unicode.Scalar(UInt32(rng.int(0...limit))) { s.unicodeScalars.append(scalar) }
            case 17:  // a long run, which takes the heap merge path and the word cache
                s += String(repeating: rng.pick(rng.pick(kinds)), count: rng.int(2...60))
            default:
                s += rng.pick(kinds[0]) + rng.pick(kinds[7]) + rng.pick(kinds[8])
            }
        }
        return s
    }

    func testAnyTextRoundTripsExactlyWithValidOffsets() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        var tokens = 0
        FuzzRunner("tokenizer", cases: 2_500, seed: 21).run(in: self) { rng, label in
            let text = Self.text(&rng)
            let bytes = Array(text.utf8)
            let context = "\(label): \(text.debugDescription)"
            for (prefix, split) in [(false, false), (false, true), (true, false), (true, true)] {
                let mode = "\(context) prefix \(prefix) split \(split)"
                let withOffsets = tokenizer.encodeWithOffsets(text, addPrefixSpace: prefix, splitSpecialTokens: split)
                let ids = tokenizer.encode(text, addPrefixSpace: prefix, splitSpecialTokens: split)
                tokens += ids.count
                XCTAssertEqual(withOffsets.map(\.id), ids, "\(mode): encode and encodeWithOffsets differ")
                guard let decoded = try? tokenizer.decodeBytes(ids) else {
                    XCTFail("\(mode): encode made an id decode refuses: \(ids)")
                    continue
                }
                if !prefix {
                    XCTAssertEqual(decoded, bytes, "\(mode): decode(encode(text)) is not the text; ids \(ids)")
                    XCTAssertEqual(try? tokenizer.decode(ids), text, mode)
                }
                checkOffsets(withOffsets, bytes: bytes, tokenizer: tokenizer, context: mode)
            }
            // Special tokens split the text into parts encoded on their own.
            let parts = text.components(separatedBy: "<|endoftext|>")
            let joined = parts.map { tokenizer.encode($0) }.joined(separator: [tokenizer.endOfTextId])
            XCTAssertEqual(tokenizer.encode(text), Array(joined), "\(context): <|endoftext|> does not split the text")
        }
        print("fuzz tokenizer: \(tokens) tokens")
    }

    /// Offsets are monotone, in bounds and contiguous, and each token's bytes are the text it covers (a
    /// synthetic prefix space covers nothing), so putting the covered pieces together gives the text back.
    private func checkOffsets(_ tokens: [TokenOffset], bytes: [UInt8], tokenizer: GPT2Tokenizer, context: String) {
        var position = 0
        var rebuilt: [UInt8] = []
        for (k, token) in tokens.enumerated() {
            guard token.start == position, token.start <= token.end, token.end <= bytes.count else {
                XCTFail("\(context): token \(k) \(token) does not continue at byte \(position) within \(bytes.count)")
                return
            }
            guard var own = tokenizer.tokenBytes(token.id) else {
                XCTFail("\(context): token \(k) has an unknown id \(token.id)")
                return
            }
            if own.count == token.end - token.start + 1, own.first == 0x20 { own.removeFirst() }  // the synthetic space
            XCTAssertEqual(own, Array(bytes[token.start..<token.end]), "\(context): token \(k) \(token) covers other bytes")
            rebuilt += own
            position = token.end
        }
        XCTAssertEqual(position, bytes.count, "\(context): the tokens stop at byte \(position) of \(bytes.count)")
        XCTAssertEqual(rebuilt, bytes, "\(context): the covered pieces are not the text")
    }

    /// Any id sequence decodes or is refused for its first bad id; decoding never crashes.
    func testRandomIdsDecodeOrAreRefused() throws {
        let tokenizer = try TokenizerFixtures.tokenizer()
        FuzzRunner("tokenizer-ids", cases: 20_000, seed: 22).run(in: self) { rng, label in
            let size = tokenizer.vocabularySize
            let ids = (0..<rng.int(0...40)).map { _ in rng.chance(0.97) ? rng.int(0...(size - 1)) : rng.pick([-1, size, Int.max, Int.min]) }
            let valid = ids.allSatisfy { (0..<size).contains($0) }
            do {
                let bytes = try tokenizer.decodeBytes(ids)
                XCTAssertTrue(valid, "\(label): decoded invalid ids \(ids)")
                XCTAssertEqual(bytes, ids.flatMap { tokenizer.tokenBytes($0) ?? [] }, label)
                // Whatever the bytes, the decoded text is valid Unicode that encodes and decodes to itself.
                let text = try tokenizer.decode(ids)
                XCTAssertEqual(try tokenizer.decode(tokenizer.encode(text)), text, label)
            } catch {
                XCTAssertFalse(valid, "\(label): refused valid ids \(ids): \(error)")
            }
        }
    }
}
