// libFuzzer entry point for LMTokenizer, built by fuzz/run.sh with swiftc together with
// Sources/LMTokenizer (see fuzz/README.md). The input, as UTF-8 (invalid bytes become U+FFFD), must encode
// and decode to itself byte for byte, with offsets that are monotone, in bounds and cover the text.
import Foundation

let tokenizer: GPT2Tokenizer = {
    let folder = ProcessInfo.processInfo.environment["LMD_FUZZ_MODEL"] ?? "Tests/Fixtures/tiny-gpt2"
    do { return try GPT2Tokenizer.load(directory: URL(fileURLWithPath: folder)) } catch {
        fatalError("cannot load the tokenizer from \(folder) (set LMD_FUZZ_MODEL): \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let bytes = Array(text.utf8)
    for (prefix, split) in [(false, false), (true, false), (false, true)] {
        let tokens = tokenizer.encodeWithOffsets(text, addPrefixSpace: prefix, splitSpecialTokens: split)
        let ids = tokenizer.encode(text, addPrefixSpace: prefix, splitSpecialTokens: split)
        if tokens.map(\.id) != ids { fatalError("encode and encodeWithOffsets differ for \(text.debugDescription)") }
        guard let decoded = try? tokenizer.decodeBytes(ids) else { fatalError("an id encode made does not decode") }
        if !prefix && decoded != bytes { fatalError("decode(encode(text)) != text for \(text.debugDescription): \(ids)") }
        var position = 0
        var rebuilt: [UInt8] = []
        for token in tokens {
            if token.start != position || token.end < token.start || token.end > bytes.count {
                fatalError("offsets \(token) do not continue at \(position) for \(text.debugDescription)")
            }
            var own = tokenizer.tokenBytes(token.id) ?? []
            if own.count == token.end - token.start + 1, own.first == 0x20 { own.removeFirst() }
            if own != Array(bytes[token.start..<token.end]) { fatalError("token \(token) covers other bytes in \(text.debugDescription)") }
            rebuilt += own
            position = token.end
        }
        if rebuilt != bytes { fatalError("offsets do not cover \(text.debugDescription)") }
    }
    return 0
}
