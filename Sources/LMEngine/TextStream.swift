/// The bytes generation has produced so far, and how much of them may be shown yet: text is released
/// only at UTF-8 character boundaries (a token can end inside a character), and never while its end
/// might still turn out to be the start of a stop string.
struct TextStream {
    /// Stop strings as UTF-8 bytes.
    let stops: [[UInt8]]
    /// Every byte generated so far.
    private(set) var bytes: [UInt8] = []
    /// Byte length after each appended token, for mapping a stop position back to tokens.
    private(set) var tokenEnds: [Int] = []
    /// Bytes already released as deltas.
    private var released = 0
    /// Where a stop string began, once one has.
    private(set) var stopIndex: Int?

    init(stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// Adds one token's bytes; returns the text that became safe to show (possibly empty).
    mutating func append(_ token: [UInt8]) -> String {
        let searchFrom = max(0, bytes.count - (stops.map(\.count).max() ?? 1) + 1)
        bytes.append(contentsOf: token)
        tokenEnds.append(bytes.count)
        if let stop = firstStop(from: searchFrom) {
            stopIndex = stop
            return release(upTo: max(stop, released))
        }
        let safe = bytes.count - max(Self.incompleteTail(bytes), stopPrefixTail())
        return release(upTo: max(safe, released))
    }

    /// The rest of the text at the end of generation (an unfinished character becomes U+FFFD).
    mutating func finish() -> String { release(upTo: stopIndex ?? bytes.count) }

    /// The whole text: everything before the stop string, if one was met.
    var text: String { String(decoding: bytes[0..<(stopIndex ?? bytes.count)], as: UTF8.self) }

    /// How many tokens begin before the stop string (all of them when none was met): the tokens whose
    /// text, or part of it, is in `text`.
    var tokensBeforeStop: Int {
        guard let stop = stopIndex else { return tokenEnds.count }
        return ([0] + tokenEnds.dropLast()).prefix { $0 < stop }.count
    }

    private mutating func release(upTo end: Int) -> String {
        guard end > released else { return "" }
        defer { released = end }
        return String(decoding: bytes[released..<end], as: UTF8.self)
    }

    private func firstStop(from start: Int) -> Int? {
        var best: Int?
        for stop in stops where bytes.count - start >= stop.count {
            var i = start
            while i + stop.count <= bytes.count {
                if bytes[i] == stop[0], bytes[i..<(i + stop.count)].elementsEqual(stop) {
                    if best == nil || i < best! { best = i }
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// Length of the longest suffix of `bytes` that is a proper prefix of some stop string.
    private func stopPrefixTail() -> Int {
        var longest = 0
        for stop in stops {
            var n = min(stop.count - 1, bytes.count)
            while n > longest {
                if bytes[(bytes.count - n)...].elementsEqual(stop[0..<n]) { longest = n; break }
                n -= 1
            }
        }
        return longest
    }

    /// Number of trailing bytes that begin a UTF-8 character not yet complete.
    static func incompleteTail(_ b: [UInt8]) -> Int {
        var i = b.count - 1, continuation = 0
        while i >= 0, continuation < 3, b[i] & 0xC0 == 0x80 { i -= 1; continuation += 1 }
        guard i >= 0 else { return 0 }
        let lead = b[i]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: need = 1
        }
        let have = b.count - i
        return need > 1 && have < need ? have : 0
    }
}
