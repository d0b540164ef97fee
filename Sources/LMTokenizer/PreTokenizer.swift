/// GPT-2's pre-tokenizer: splits UTF-8 text into the pieces that BPE then works on, exactly as the
/// regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` does in Hugging Face
/// tokenizers (Oniguruma). It is a hand-written scanner over Unicode scalars so that it needs no regex
/// engine and runs at memory speed on ASCII.
///
/// `\s` is Oniguruma's Unicode whitespace: U+0009–U+000D, U+0085 and the Zs/Zl/Zp categories, which is
/// the Unicode White_Space property (so U+00A0 is whitespace, U+200B and U+001C–U+001F are not).
struct PreTokenizer {
    /// What the regex's character classes see in one scalar.
    enum CharClass: UInt8 {
        case letter, number, whitespace, other
    }

    /// Classes of the scalars below `tableLimit`, computed once and never freed; rarer scalars are
    /// classified on the fly. A raw pointer copied into each scanner, because reading a lazily
    /// initialised global costs a `swift_once` check per character.
    private static let tableLimit: UInt32 = 0x10000
    private static let sharedTable: UnsafePointer<CharClass> = {
        let table = UnsafeMutablePointer<CharClass>.allocate(capacity: Int(tableLimit))
        for value in 0..<tableLimit { (table + Int(value)).initialize(to: classifySlow(value)) }
        return UnsafePointer(table)
    }()

    /// The class of one scalar value.
    static func classify(_ value: UInt32) -> CharClass {
        value < tableLimit ? sharedTable[Int(value)] : classifySlow(value)
    }

    @inline(__always)
    private func classify(_ value: UInt32) -> CharClass {
        value < PreTokenizer.tableLimit ? table[Int(value)] : PreTokenizer.classifySlow(value)
    }

    /// The newest Unicode version that Hugging Face tokenizers' Oniguruma knows. A scalar assigned later
    /// is unassigned (Cn) there, so neither `\p{L}` nor `\p{N}`, whatever Swift's newer tables say:
    /// "\u{32531}'m" splits as "\u{32531}'" + "m" in HF, not "\u{32531}" + "'m". Checked against HF
    /// (tokenizers 0.23.3) on every code point with Swift 6.3's Unicode 17 tables: with this cut-off
    /// the classes agree everywhere.
    static let oldestUnknownVersion = (major: 16, minor: 1)

    /// The class from Unicode properties: `\p{L}`, `\p{N}`, `\s`, or anything else.
    static func classifySlow(_ value: UInt32) -> CharClass {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let cls: CharClass
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            cls = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            cls = .number
        default:
            return scalar.properties.isWhitespace ? .whitespace : .other
        }
        if let age = scalar.properties.age, (age.major, age.minor) >= oldestUnknownVersion { return .other }
        return cls
    }

    /// Builds the shared class table now rather than on the first character encoded.
    static func prepare() {
        _ = sharedTable
    }

    private let table: UnsafePointer<CharClass>
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    private let end: Int

    /// A scanner over `bytes[start..<end]`, which must be valid UTF-8 (the bytes of a Swift string).
    /// The regex's lookahead stops at `end`, as it does at the end of a Hugging Face split.
    init(bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.table = PreTokenizer.sharedTable
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    /// The class and byte length of the scalar starting at `index` (which is below `end`).
    @inline(__always)
    private func scalar(at index: Int) -> (CharClass, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (classify(UInt32(lead)), 1) }
        // Valid UTF-8 is guaranteed, but a truncated sequence must still not read past `end`.
        var value: UInt32
        var length: Int
        if lead < 0xE0 {
            value = UInt32(lead & 0x1F); length = 2
        } else if lead < 0xF0 {
            value = UInt32(lead & 0x0F); length = 3
        } else {
            value = UInt32(lead & 0x07); length = 4
        }
        length = min(length, end - index)
        for offset in 1..<max(length, 1) {
            value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
        }
        return (classify(value), max(length, 1))
    }

    /// The end of the run of scalars of class `cls` that starts at `index`.
    @inline(__always)
    private func run(of cls: CharClass, from index: Int) -> Int {
        var i = index
        while i < end {
            let lead = bytes[i]
            if lead < 0x80 {
                if classify(UInt32(lead)) != cls { break }
                i += 1
            } else {
                let (c, length) = scalar(at: i)
                if c != cls { break }
                i += length
            }
        }
        return i
    }

    /// The length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `index`, or 0.
    @inline(__always)
    private func contraction(at index: Int) -> Int {
        guard index + 1 < end else { return 0 }
        switch bytes[index + 1] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 2 < end && bytes[index + 2] == UInt8(ascii: "e") ? 3 : 0
        case UInt8(ascii: "l"):
            return index + 2 < end && bytes[index + 2] == UInt8(ascii: "l") ? 3 : 0
        default:
            return 0
        }
    }

    /// The next piece as a byte range, or nil at the end.
    mutating func next() -> Range<Int>? {
        let start = position
        guard start < end else { return nil }
        let lead = bytes[start]
        if lead == UInt8(ascii: "'") {
            let length = contraction(at: start)
            if length > 0 {
                position = start + length
                return start..<position
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a single U+0020 may lead a run.
        if lead == 0x20, start + 1 < end {
            let (nextClass, _) = scalar(at: start + 1)
            if nextClass != .whitespace {
                position = run(of: nextClass, from: start + 1)
                return start..<position
            }
        }
        let (cls, length) = scalar(at: start)
        if cls != .whitespace {
            position = run(of: cls, from: start + length)
            return start..<position
        }
        // `\s+(?!\S)`: the whole run if it ends the text, else all but its last scalar, which is left
        // to lead the next piece; `\s+` takes a single whitespace scalar followed by non-whitespace.
        var last = start
        var i = start + length
        while i < end {
            let (c, n) = scalar(at: i)
            if c != .whitespace { break }
            last = i
            i += n
        }
        position = (i == end || last == start) ? i : last
        return start..<position
    }
}
