import Foundation

/// One token from `encodeWithOffsets`: its id and the UTF-8 byte range `[start, end)` of the text it
/// stands for. A synthetic prefix space covers no bytes.
public struct TokenOffset: Equatable, Hashable, Sendable {
    /// The token id.
    public var id: Int
    /// The first UTF-8 byte of the text the token covers.
    public var start: Int
    /// One past the last UTF-8 byte of the text the token covers.
    public var end: Int

    /// A token with its byte range.
    public init(id: Int, start: Int, end: Int) {
        self.id = id
        self.start = start
        self.end = end
    }
}

/// GPT-2's byte-level BPE tokenizer, giving exactly the ids of Hugging Face's GPT2TokenizerFast.
/// Immutable after loading apart from an internal, thread-safe word cache, so one instance may serve
/// many threads.
public final class GPT2Tokenizer: @unchecked Sendable {
    /// The number of ids (one more than the largest id).
    public let vocabularySize: Int
    /// The id of `<|endoftext|>` (50256 for GPT-2).
    public let endOfTextId: Int

    private let vocab: [String: Int]
    private let tokenStrings: [String?]
    /// Token `i`'s raw bytes are `byteArena[byteOffsets[i]..<byteOffsets[i + 1]]`.
    private let byteArena: [UInt8]
    private let byteOffsets: [Int32]
    private let isKnownId: [Bool]
    /// The id of each single byte's token: where BPE starts.
    let byteIds: [Int32]
    let merges: MergeTable
    /// All added tokens, and only the non-special ones (for `splitSpecialTokens`).
    private let addedTokens: AddedTokenMatcher
    private let nonSpecialAddedTokens: AddedTokenMatcher
    private let cache = WordCache()

    // MARK: - Loading

    /// Loads `vocab.json` + `merges.txt` from `directory` if present, else `tokenizer.json`.
    public static func load(directory: URL) throws -> GPT2Tokenizer {
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        let exists = { (url: URL) in FileManager.default.fileExists(atPath: url.path) }
        if exists(vocabURL) && exists(mergesURL) { return try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL) }
        if exists(jsonURL) { return try GPT2Tokenizer(tokenizerJSONURL: jsonURL) }
        if exists(vocabURL) || exists(mergesURL) { return try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL) }
        throw TokenizerError.noTokenizerFiles(directory: directory.path)
    }

    /// Loads GPT-2's original `vocab.json` and `merges.txt`; `<|endoftext|>` is the special token.
    public convenience init(vocabURL: URL, mergesURL: URL) throws {
        try self.init(definition: TokenizerDefinition.load(vocabURL: vocabURL, mergesURL: mergesURL))
    }

    /// Loads a Hugging Face `tokenizer.json` (BPE model with its added tokens).
    public convenience init(tokenizerJSONURL: URL) throws {
        try self.init(definition: TokenizerDefinition.load(tokenizerJSONURL: tokenizerJSONURL))
    }

    /// Builds the tables and checks the files against each other: every byte has a token, every merge
    /// names known tokens and yields a known token, ids are unique.
    init(definition: TokenizerDefinition) throws {
        let vocabPath = definition.vocabPath
        func corrupt(_ path: String, _ reason: String) -> TokenizerError { .corruptFile(path: path, reason: reason) }

        let size = (definition.vocab.values.max() ?? -1) + 1
        // Ids index flat tables, so a stray huge id must be an error, not a huge allocation.
        guard size <= definition.vocab.count + 1_000_000 else {
            throw corrupt(vocabPath, "its ids run up to \(size - 1) for only \(definition.vocab.count) tokens")
        }
        var strings = [String?](repeating: nil, count: size)
        for (token, id) in definition.vocab {
            if let other = strings[id], other != token {
                throw corrupt(vocabPath, "\"\(other)\" and \"\(token)\" both have id \(id)")
            }
            strings[id] = token
        }
        var arena: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(size + 1)
        for token in strings {
            // Tokens outside the byte alphabet (added tokens) stand for their own UTF-8, as in HF's decoder.
            if let token { arena.append(contentsOf: ByteLevel.decode(token) ?? Array(token.utf8)) }
            offsets.append(Int32(arena.count))
        }

        var byteIds = [Int32](repeating: 0, count: 256)
        for byte in 0..<256 {
            let symbol = ByteLevel.encode([UInt8(byte)])
            guard let id = definition.vocab[symbol] else {
                throw corrupt(vocabPath, "it has no token for byte \(byte) (\"\(symbol)\"), which byte-level BPE needs")
            }
            byteIds[byte] = Int32(id)
        }

        var table = MergeTable(capacity: definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            guard let left = definition.vocab[merge.left], let right = definition.vocab[merge.right] else {
                throw corrupt(definition.mergesPath,
                              "\(definition.location(of: merge)) merges \"\(merge.left) \(merge.right)\", which names a token not in the vocabulary")
            }
            guard let merged = definition.vocab[merge.left + merge.right] else {
                throw corrupt(definition.mergesPath,
                              "\(definition.location(of: merge)) merges into \"\(merge.left + merge.right)\", which is not in the vocabulary")
            }
            table.insert(left: Int32(left), right: Int32(right), rank: rank, merged: Int32(merged))
        }

        guard let endOfText = definition.vocab[TokenizerDefinition.endOfText] else {
            throw corrupt(vocabPath, "it has no \(TokenizerDefinition.endOfText) token")
        }

        self.vocabularySize = size
        self.endOfTextId = endOfText
        self.vocab = definition.vocab
        self.tokenStrings = strings
        self.byteArena = arena
        self.byteOffsets = offsets
        self.isKnownId = strings.map { $0 != nil }
        self.byteIds = byteIds
        self.merges = table
        self.addedTokens = AddedTokenMatcher(definition.addedTokens)
        self.nonSpecialAddedTokens = AddedTokenMatcher(definition.addedTokens.filter { !$0.special })
        PreTokenizer.prepare()
    }

    // MARK: - Encoding

    /// The ids of `text`. `addPrefixSpace` puts a space before each piece of text (between added tokens)
    /// that does not start with one, as HF's `add_prefix_space`; `splitSpecialTokens` tokenizes special
    /// tokens' text as plain text.
    public func encode(_ text: String, addPrefixSpace: Bool = false, splitSpecialTokens: Bool = false) -> [Int] {
        var sink = IdSink()
        sink.ids.reserveCapacity(text.utf8.count / 4 + 1)
        encode(text, addPrefixSpace: addPrefixSpace, splitSpecialTokens: splitSpecialTokens, into: &sink)
        return sink.ids
    }

    /// The ids of `text` with the UTF-8 byte range each one covers (see `encode`).
    public func encodeWithOffsets(_ text: String, addPrefixSpace: Bool = false,
                                  splitSpecialTokens: Bool = false) -> [TokenOffset] {
        var sink = OffsetSink()
        encode(text, addPrefixSpace: addPrefixSpace, splitSpecialTokens: splitSpecialTokens, into: &sink)
        return sink.tokens
    }

    /// Reusable buffers for one `encode` call.
    private struct Scratch {
        var symbols: [Int32] = []
        var prefixed: [UInt8] = []
    }

    private func encode<Sink: TokenSink>(_ text: String, addPrefixSpace: Bool, splitSpecialTokens: Bool,
                                         into sink: inout Sink) {
        var text = text
        let matcher = splitSpecialTokens ? nonSpecialAddedTokens : addedTokens
        var scratch = Scratch()
        text.withUTF8 { bytes in
            var segmentStart = 0
            while let match = matcher.firstMatch(in: bytes, from: segmentStart) {
                encodeSegment(bytes, segmentStart..<match.range.lowerBound, addPrefixSpace, &scratch, &sink)
                sink.add(match.id, match.range.lowerBound, match.range.upperBound)
                segmentStart = match.range.upperBound
            }
            encodeSegment(bytes, segmentStart..<bytes.count, addPrefixSpace, &scratch, &sink)
        }
    }

    /// Encodes text between added tokens, with a synthetic leading space if asked and needed.
    private func encodeSegment<Sink: TokenSink>(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                                _ addPrefixSpace: Bool, _ scratch: inout Scratch, _ sink: inout Sink) {
        guard !range.isEmpty else { return }
        guard addPrefixSpace, bytes[range.lowerBound] != 0x20 else {
            encodePieces(bytes, range, prefixedAt: nil, &scratch, &sink)
            return
        }
        // Taken out of the scratch (and put back) so that it stays uniquely referenced and is reused.
        var prefixed = scratch.prefixed
        scratch.prefixed = []
        prefixed.removeAll(keepingCapacity: true)
        prefixed.append(0x20)
        prefixed.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
        prefixed.withUnsafeBufferPointer { buffer in
            encodePieces(buffer, 0..<buffer.count, prefixedAt: range.lowerBound, &scratch, &sink)
        }
        scratch.prefixed = prefixed
    }

    /// Pre-tokenizes `bytes[range]` and appends each piece's tokens. If `prefixedAt` is set, `bytes` is a
    /// copy of the text from that offset with one synthetic space in front, which maps to no bytes.
    private func encodePieces<Sink: TokenSink>(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                               prefixedAt origin: Int?, _ scratch: inout Scratch, _ sink: inout Sink) {
        var scanner = PreTokenizer(bytes: bytes, start: range.lowerBound, end: range.upperBound)
        while let piece = scanner.next() {
            if piece.count == 1 {
                let id = byteIds[Int(bytes[piece.lowerBound])]
                if let origin {
                    sink.add(id, origin + max(piece.lowerBound - 1, 0), origin + piece.lowerBound)
                } else {
                    sink.add(id, piece.lowerBound, piece.upperBound)
                }
                continue
            }
            let word = UnsafeBufferPointer(rebasing: bytes[piece])
            let hash = WordCache.hash(word)
            let cached = cache.withIds(of: word, hash: hash) { ids in
                emit(ids, at: piece.lowerBound, origin: origin, &sink)
            }
            if cached { continue }
            scratch.symbols.removeAll(keepingCapacity: true)
            for byte in word { scratch.symbols.append(byteIds[Int(byte)]) }
            merges.merge(&scratch.symbols)
            scratch.symbols.withUnsafeBufferPointer { ids in
                emit(ids, at: piece.lowerBound, origin: origin, &sink)
                cache.insert(word, hash: hash, ids: ids)
            }
        }
    }

    /// Hands one word's ids to the sink with their byte ranges, the word starting at `position` of the
    /// buffer being scanned (see `encodePieces` for `origin`).
    @inline(__always)
    private func emit<Sink: TokenSink>(_ ids: UnsafeBufferPointer<Int32>, at position: Int, origin: Int?,
                                       _ sink: inout Sink) {
        guard Sink.wantsOffsets else {
            for id in ids { sink.add(id, 0, 0) }
            return
        }
        var position = position
        for id in ids {
            let next = position + Int(byteOffsets[Int(id) + 1] - byteOffsets[Int(id)])
            if let origin {
                sink.add(id, origin + max(position - 1, 0), origin + max(next - 1, 0))
            } else {
                sink.add(id, position, next)
            }
            position = next
        }
    }

    // MARK: - Decoding and lookups

    /// The text of `ids`; bytes that are not valid UTF-8 become U+FFFD (as HF's `errors="replace"`).
    public func decode(_ ids: [Int]) throws -> String {
        String(decoding: try decodeBytes(ids), as: UTF8.self)
    }

    /// The raw bytes of `ids`; throws `TokenizerError.unknownId` for an id outside the vocabulary.
    public func decodeBytes(_ ids: [Int]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, id < vocabularySize, isKnownId[id] else { throw TokenizerError.unknownId(id) }
            bytes.append(contentsOf: byteArena[Int(byteOffsets[id])..<Int(byteOffsets[id + 1])])
        }
        return bytes
    }

    /// The raw bytes of one token, or nil if the id is not in the vocabulary.
    public func tokenBytes(_ id: Int) -> [UInt8]? {
        guard id >= 0, id < vocabularySize, isKnownId[id] else { return nil }
        return Array(byteArena[Int(byteOffsets[id])..<Int(byteOffsets[id + 1])])
    }

    /// The id of a token given in the vocabulary's byte-level string form (e.g. "Ġthe"), or nil.
    public func id(forToken token: String) -> Int? {
        vocab[token]
    }

    /// The vocabulary's byte-level string form of an id (e.g. "Ġthe"), or nil if out of range.
    public func tokenString(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        return tokenStrings[id]
    }

    /// Empties the word cache (for measurements, or to give back its memory).
    public func clearCache() {
        cache.removeAll()
    }

    /// The number of words in the cache.
    public var cachedWordCount: Int {
        cache.wordCount
    }
}

/// Where the encoder puts its tokens; `wantsOffsets` lets the plain-ids path skip offset arithmetic.
private protocol TokenSink {
    static var wantsOffsets: Bool { get }
    mutating func add(_ id: Int32, _ start: Int, _ end: Int)
}

private struct IdSink: TokenSink {
    static var wantsOffsets: Bool { false }
    var ids: [Int] = []
    @inline(__always) mutating func add(_ id: Int32, _ start: Int, _ end: Int) { ids.append(Int(id)) }
}

private struct OffsetSink: TokenSink {
    static var wantsOffsets: Bool { true }
    var tokens: [TokenOffset] = []
    @inline(__always) mutating func add(_ id: Int32, _ start: Int, _ end: Int) {
        tokens.append(TokenOffset(id: Int(id), start: start, end: end))
    }
}
