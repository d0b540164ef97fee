import Foundation
import GPT2

/// Deterministic prompts: English words drawn by a seeded generator, so that every run of lmbench (and
/// the comparison scripts reading its prompt file) sees the same text, and "fresh" prompts never repeat
/// within a run.
struct PromptSource {
    private static let words = """
        the of and to in is it that was for on are as with his they at be this from have or by one had not \
        but what all were when we there can your which their said if do will each about how up out them then \
        she many some so these would other into has more her two like him see time could no make than first \
        been its who now people my made over did down only way find use may water long little very after \
        words called just where most know get through back much before go good new write our used me man \
        too any day same right look think also around another came come work three word must because does \
        part even place well such here take why things help put years different away again off went old \
        number great tell men say small every found still between name should home big give air line set \
        own under read last never us left end along while might next sound below saw something thought both \
        few those always looked show large often together asked house world going want school important \
        until form food keep children feet land side without boy once animals life enough took sometimes \
        four head above kind began almost live page got earth need far hand high year mother light parts \
        country father let night following picture being study second eyes soon times story boys since \
        white days ever paper hard near sentence better best across during today others however sure means \
        knew try told young miles sun ways thing whole hear example heard several change answer room sea \
        against top turned learn point city play toward five using himself usually river morning garden
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    private var generator: SeededGenerator

    /// A source whose sequence of prompts is fixed by `seed`.
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// One word, without spaces.
    mutating func word() -> String {
        Self.words[Int(next() % UInt64(Self.words.count))]
    }

    /// `count` words joined by spaces, the first capitalised.
    mutating func phrase(words count: Int) -> String {
        var parts = (0..<count).map { _ in word() }
        if let first = parts.first { parts[0] = first.prefix(1).uppercased() + first.dropFirst() }
        return parts.joined(separator: " ")
    }

    /// Prose of sentences of 6 to 15 words, at least `bytes` UTF-8 bytes long.
    mutating func prose(bytes: Int) -> String {
        var text = ""
        while text.utf8.count < bytes {
            if !text.isEmpty { text += " " }
            text += phrase(words: 6 + Int(next() % 10)) + (next() % 4 == 0 ? "," : ".")
        }
        return text
    }

    private mutating func next() -> UInt64 { generator.next() }
}
