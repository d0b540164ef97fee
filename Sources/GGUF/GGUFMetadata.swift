/// A GGUF file's metadata: key/value pairs in file order, with typed accessors that throw a
/// `GGUFError.malformedMetadata` naming the file and key when a value has the wrong type or range.
public struct GGUFMetadata: Sendable {
    /// The file the metadata came from, for error messages.
    public let file: String
    /// The keys in the order the file lists them.
    public let keys: [String]
    private let values: [String: GGUFValue]

    /// Metadata from parsed entries (keys unique, in order).
    init(file: String, entries: [(String, GGUFValue)]) {
        self.file = file
        self.keys = entries.map(\.0)
        var values: [String: GGUFValue] = [:]
        values.reserveCapacity(entries.count)
        for (key, value) in entries { values[key] = value }
        self.values = values
    }

    /// The value stored under `key`, or nil.
    public subscript(key: String) -> GGUFValue? { values[key] }

    /// The error for a required key that is absent.
    public func missing(_ key: String) -> GGUFError { .missingMetadata(file: file, key: key) }

    /// The error for a present value that is not what the reader needs.
    public func malformed(_ key: String, _ reason: String) -> GGUFError {
        .malformedMetadata(file: file, key: key, reason: reason)
    }

    /// The string under `key`; nil when absent, an error when it is not a STRING.
    public func string(_ key: String) throws -> String? {
        guard let value = values[key] else { return nil }
        guard let s = value.stringValue else { throw malformed(key, "it is \(value.type), expected STRING") }
        return s
    }

    /// The integer under `key` (any integer type); nil when absent, an error when it is not an integer
    /// or lies outside `range`.
    public func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let value = values[key] else { return nil }
        guard let n = value.intValue else {
            switch value {
            case .uint64: throw malformed(key, "\(value) does not fit in a 64-bit signed integer")
            default: throw malformed(key, "it is \(value.type), expected an integer")
            }
        }
        guard range.contains(n) else {
            throw malformed(key, "\(n) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// The number under `key` (float or integer); nil when absent, an error otherwise.
    public func double(_ key: String) throws -> Double? {
        guard let value = values[key] else { return nil }
        guard let x = value.doubleValue else { throw malformed(key, "it is \(value.type), expected a number") }
        return x
    }

    /// The boolean under `key`; nil when absent, an error when it is not a BOOL.
    public func bool(_ key: String) throws -> Bool? {
        guard let value = values[key] else { return nil }
        guard case let .bool(b) = value else { throw malformed(key, "it is \(value.type), expected BOOL") }
        return b
    }

    /// The array of strings under `key`; nil when absent, an error when it is not an array of STRING.
    public func stringArray(_ key: String) throws -> [String]? {
        guard let value = values[key] else { return nil }
        guard case let .array(type, elements) = value, type == .string else {
            throw malformed(key, "it is \(describeType(value)), expected an array of STRING")
        }
        return elements.map { $0.stringValue ?? "" }
    }

    /// The array of integers under `key` (any integer element type); nil when absent, an error when it
    /// is not an array of integers.
    public func intArray(_ key: String) throws -> [Int]? {
        guard let value = values[key] else { return nil }
        guard case let .array(_, elements) = value else {
            throw malformed(key, "it is \(value.type), expected an array of integers")
        }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let n = element.intValue else {
                throw malformed(key, "element \(index) is \(element.type), expected an integer")
            }
            result.append(n)
        }
        return result
    }

    private func describeType(_ value: GGUFValue) -> String {
        if case let .array(type, _) = value { return "an array of \(type)" }
        return "\(value.type)"
    }
}
