/// Why a text is not the strict RFC 8259 JSON we accept, and at which byte.
public enum JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing but whitespace.
    case empty
    /// The text ended inside a value.
    case unexpectedEnd(offset: Int)
    /// A byte that cannot start or continue a value here.
    case unexpectedByte(UInt8, offset: Int)
    /// Bytes that are not well-formed UTF-8 (in a string).
    case invalidUTF8(offset: Int)
    /// An unescaped control character (U+0000–U+001F) in a string.
    case controlCharacter(UInt8, offset: Int)
    /// A backslash escape that JSON does not define, or a malformed `\u` escape.
    case invalidEscape(offset: Int)
    /// A `\u` escape of a surrogate that is not part of a valid pair (we reject rather than replace with U+FFFD).
    case loneSurrogate(offset: Int)
    /// A number that breaks JSON's number grammar.
    case invalidNumber(offset: Int)
    /// A number too large for a double (JSON has no Infinity).
    case numberOutOfRange(offset: Int)
    /// Arrays and objects nested deeper than the limit.
    case tooDeep(limit: Int, offset: Int)
    /// Something after the value other than whitespace.
    case trailingData(offset: Int)

    /// The byte offset where the problem was found (0 for empty input).
    public var offset: Int {
        switch self {
        case .empty: return 0
        case let .unexpectedEnd(o), let .unexpectedByte(_, o), let .invalidUTF8(o), let .controlCharacter(_, o),
            let .invalidEscape(o), let .loneSurrogate(o), let .invalidNumber(o), let .numberOutOfRange(o),
            let .tooDeep(_, o), let .trailingData(o):
            return o
        }
    }

    /// A sentence saying what is wrong and where.
    public var description: String {
        switch self {
        case .empty: return "empty input: expected a JSON value"
        case let .unexpectedEnd(o): return "unexpected end of input at byte \(o)"
        case let .unexpectedByte(b, o): return "unexpected \(Self.show(b)) at byte \(o)"
        case let .invalidUTF8(o): return "invalid UTF-8 at byte \(o)"
        case let .controlCharacter(b, o):
            return "unescaped control character \(Self.show(b)) in a string at byte \(o)"
        case let .invalidEscape(o): return "invalid escape sequence at byte \(o)"
        case let .loneSurrogate(o): return "\\u escape of a lone surrogate at byte \(o)"
        case let .invalidNumber(o): return "malformed number at byte \(o)"
        case let .numberOutOfRange(o): return "number too large for a double at byte \(o)"
        case let .tooDeep(limit, o): return "arrays and objects nested deeper than \(limit) at byte \(o)"
        case let .trailingData(o): return "unexpected data after the JSON value at byte \(o)"
        }
    }

    private static func show(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        let hex = String(b, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count < 2 ? "0" + hex : hex)
    }
}
