import Foundation

/// Finds added tokens (like `<|endoftext|>`) in raw UTF-8 text, leftmost first and longest first at a
/// position, as Hugging Face's added vocabulary does before any pre-tokenization.
struct AddedTokenMatcher {
    private struct Candidate {
        var bytes: [UInt8]
        var id: Int32
    }

    /// Candidates by first byte, longest first.
    private var byFirstByte: [[Candidate]] = Array(repeating: [], count: 256)
    private var firstBytes = [Bool](repeating: false, count: 256)

    /// Whether there is nothing to match.
    let isEmpty: Bool

    /// A matcher for `tokens`.
    init(_ tokens: [AddedToken]) {
        isEmpty = tokens.isEmpty
        for token in tokens {
            let bytes = Array(token.content.utf8)
            guard let first = bytes.first else { continue }
            byFirstByte[Int(first)].append(Candidate(bytes: bytes, id: Int32(truncatingIfNeeded: token.id)))
            firstBytes[Int(first)] = true
        }
        for i in byFirstByte.indices { byFirstByte[i].sort { $0.bytes.count > $1.bytes.count } }
    }

    /// The first match in `text[from..<text.count]`: its byte range and id, or nil.
    func firstMatch(in text: UnsafeBufferPointer<UInt8>, from: Int) -> (range: Range<Int>, id: Int32)? {
        guard !isEmpty else { return nil }
        return firstBytes.withUnsafeBufferPointer { firstBytes in
            var i = from
            while i < text.count {
                if firstBytes[Int(text[i])] {
                    for candidate in byFirstByte[Int(text[i])] where candidate.bytes.count <= text.count - i {
                        let matches = candidate.bytes.withUnsafeBufferPointer { c in
                            memcmp(c.baseAddress!, text.baseAddress! + i, c.count) == 0
                        }
                        if matches { return (i..<(i + candidate.bytes.count), candidate.id) }
                    }
                }
                i += 1
            }
            return nil
        }
    }
}

