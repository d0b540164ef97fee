/// Reads named params, turning every wrong type or value into a -32602 that names the param and says why.
/// A param given as `null` counts as absent; params the method does not know are ignored.
public struct ParamReader: Sendable {
    /// The params object (empty when params were absent).
    public let object: JSONObject

    /// Accepts absent params or an object; positional (array) params are refused.
    public init(_ params: JSONValue?) throws(RPCError) {
        switch params {
        case nil, .null?: object = JSONObject()
        case let .object(o)?: object = o
        case let p?:
            throw RPCError.invalidParams("params", "must be an object of named parameters, not \(p.kindDescription)")
        }
    }

    /// The raw value of `name`, nil when absent or null.
    public func value(_ name: String) -> JSONValue? {
        switch object[name] {
        case nil, .null?: return nil
        case let v?: return v
        }
    }

    /// Whether `name` is present (and not null).
    public func has(_ name: String) -> Bool { value(name) != nil }

    /// A string param.
    public func string(_ name: String) throws(RPCError) -> String? {
        guard let v = value(name) else { return nil }
        guard case let .string(s) = v else { throw wrongType(name, "a string", v) }
        return s
    }

    /// A boolean param.
    public func bool(_ name: String) throws(RPCError) -> Bool? {
        guard let v = value(name) else { return nil }
        guard case let .bool(b) = v else { throw wrongType(name, "a boolean", v) }
        return b
    }

    /// An integer param within `range` (a number with no fraction, such as 5.0, is accepted).
    public func int(_ name: String, in range: ClosedRange<Int>) throws(RPCError) -> Int? {
        guard let v = value(name) else { return nil }
        guard let i = v.intValue else { throw wrongType(name, "an integer", v) }
        guard range.contains(i) else { throw RPCError.invalidParams(name, Self.rangeText(range, got: v)) }
        return i
    }

    /// A finite number param.
    public func number(_ name: String) throws(RPCError) -> Double? {
        guard let v = value(name) else { return nil }
        guard let d = v.doubleValue else { throw wrongType(name, "a number", v) }
        return d
    }

    /// One of `E`'s raw values.
    public func choice<E: RawRepresentable & CaseIterable>(_ name: String, _: E.Type) throws(RPCError) -> E?
    where E.RawValue == String {
        guard let s = try string(name) else { return nil }
        guard let e = E(rawValue: s) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw RPCError.invalidParams(name, "must be \(allowed), not \(JSONValue.string(s))")
        }
        return e
    }

    /// An array of strings.
    public func strings(_ name: String) throws(RPCError) -> [String]? {
        guard let v = value(name) else { return nil }
        guard case let .array(elements) = v else { throw wrongType(name, "an array of strings", v) }
        var out: [String] = []
        out.reserveCapacity(elements.count)
        for (k, e) in elements.enumerated() {
            guard case let .string(s) = e else { throw wrongType("\(name)[\(k)]", "a string", e) }
            out.append(s)
        }
        return out
    }

    /// An array of token ids (non-negative integers).
    public func tokenIDs(_ name: String) throws(RPCError) -> [Int]? {
        guard let v = value(name) else { return nil }
        guard case let .array(elements) = v else { throw wrongType(name, "an array of token ids", v) }
        var out: [Int] = []
        out.reserveCapacity(elements.count)
        for (k, e) in elements.enumerated() {
            guard let id = e.intValue else { throw wrongType("\(name)[\(k)]", "an integer token id", e) }
            guard id >= 0 else {
                throw RPCError.invalidParams("\(name)[\(k)]", "must be a token id (0 or more), not \(id)")
            }
            out.append(id)
        }
        return out
    }

    /// -32602 "name must be <expected>, not <what it was>".
    public func wrongType(_ name: String, _ expected: String, _ got: JSONValue) -> RPCError {
        RPCError.invalidParams(name, "must be \(expected), not \(got.kindDescription)")
    }

    static func rangeText(_ range: ClosedRange<Int>, got: JSONValue) -> String {
        if range.upperBound == Int.max { return "must be at least \(range.lowerBound), not \(got)" }
        return "must be between \(range.lowerBound) and \(range.upperBound), not \(got)"
    }
}
