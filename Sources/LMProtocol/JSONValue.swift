/// A JSON value as it travels on the wire: our own type, so that numbers keep the distinction between
/// integers and doubles and objects keep their members' order.
public enum JSONValue: Hashable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number (always finite when parsed).
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, members in insertion order.
    case object(JSONObject)
}

extension JSONValue {
    /// The integer this value holds: an `.int`, or a `.double` with no fraction that fits in `Int`.
    public var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d): return Self.exactInt(d)
        default: return nil
        }
    }

    /// `d` as an Int when it has no fraction and fits. Written with a plain conversion because the
    /// rounding functions would pull in libm, which this module does not link.
    static func exactInt(_ d: Double) -> Int? {
        // 2^63 is exactly representable and is the first double past Int.max.
        guard d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 else { return nil }
        let i = Int(d)
        return Double(i) == d ? i : nil
    }

    /// The number this value holds (integers converted).
    public var doubleValue: Double? {
        switch self {
        case let .double(d): return d
        case let .int(i): return Double(i)
        default: return nil
        }
    }

    /// The string this value holds.
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The boolean this value holds.
    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: JSONObject? {
        if case let .object(o) = self { return o }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member named `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The element at `index`, if this is an array that long.
    public subscript(index: Int) -> JSONValue? {
        guard case let .array(a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    /// How this value's kind reads in an error message ("a string", "an integer", …).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case let .double(d):
            // Doubles of 2^53 and beyond have no fraction bits.
            return Self.exactInt(d) != nil || d.magnitude >= 9_007_199_254_740_992 ? "a number" : "a number with a fraction"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral {
    /// `nil` is JSON `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// A boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// An integer literal.
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// A floating-point literal.
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// An array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// An object literal; members keep the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact one-line JSON text of this value.
    public var description: String { String(decoding: serialized(), as: UTF8.self) }
}
