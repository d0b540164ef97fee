// TEMPORARY: stands in for LMProtocol's JSONValue until branch `proto` is merged. Delete then.
import Foundation

/// Stub object.
public typealias JSONObject = [String: JSONValue]

/// Stub JSON value.
public enum JSONValue: Hashable, Sendable, ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral, CustomStringConvertible
{
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object(JSONObject)
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public var intValue: Int? {
        if case let .int(i) = self { return i }
        if case let .double(d) = self, d.rounded() == d { return Int(d) }
        return nil
    }
    public var doubleValue: Double? {
        if case let .double(d) = self { return d }
        if case let .int(i) = self { return Double(i) }
        return nil
    }
    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var objectValue: JSONObject? { if case let .object(o) = self { return o }; return nil }
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
    public var description: String { String(decoding: serialized(), as: UTF8.self) }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        let any = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        return convert(any)
    }
    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    private static func convert(_ any: Any) -> JSONValue {
        switch any {
        case is NSNull: return .null
        case let b as Bool where type(of: any) == Bool.self: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let a as [Any]: return .array(a.map(convert))
        case let o as [String: Any]: return .object(o.mapValues(convert))
        case let n as NSNumber: return .double(n.doubleValue)
        default: return .null
        }
    }

    public func serialized() -> [UInt8] {
        switch self {
        case .null: return Array("null".utf8)
        case let .bool(b): return Array((b ? "true" : "false").utf8)
        case let .int(i): return Array(String(i).utf8)
        case let .double(d): return Array("\(d)".utf8)
        case let .string(s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return Array((out + "\"").utf8)
        case let .array(a):
            var out: [UInt8] = [UInt8(ascii: "[")]
            for (i, v) in a.enumerated() { if i > 0 { out.append(UInt8(ascii: ",")) }; out += v.serialized() }
            out.append(UInt8(ascii: "]"))
            return out
        case let .object(o):
            var out: [UInt8] = [UInt8(ascii: "{")]
            for (i, (k, v)) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += JSONValue.string(k).serialized() + [UInt8(ascii: ":")] + v.serialized()
            }
            out.append(UInt8(ascii: "}"))
            return out
        }
    }
}
