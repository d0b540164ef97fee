/// Conversions between Swift arrays and JSON arrays used by the method types.
extension JSONValue {
    /// An array of integers.
    public static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .int($0) }) }

    /// An array of float32 numbers (printed in float32's shortest form).
    public static func floats(_ values: some Collection<Float>) -> JSONValue { .array(values.map { .double(Double($0)) }) }

    /// An array of strings.
    public static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

    /// The elements as integers, if every one is.
    public var intArray: [Int]? {
        guard case let .array(a) = self else { return nil }
        var out: [Int] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let i = e.intValue else { return nil }
            out.append(i)
        }
        return out
    }

    /// The elements as float32 numbers, if every one is a number (`null` stands for a non-finite value: NaN).
    public var floatArray: [Float]? {
        guard case let .array(a) = self else { return nil }
        var out: [Float] = []
        out.reserveCapacity(a.count)
        for e in a {
            if e.isNull { out.append(.nan); continue }
            guard let d = e.doubleValue else { return nil }
            out.append(Float(d))
        }
        return out
    }

    /// The elements as strings, if every one is.
    public var stringArray: [String]? {
        guard case let .array(a) = self else { return nil }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard case let .string(s) = e else { return nil }
            out.append(s)
        }
        return out
    }
}
