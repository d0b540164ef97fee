/// The type tag of a GGUF metadata value, as the file stores it (a little-endian uint32).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// 8-bit unsigned integer.
    case uint8 = 0
    /// 8-bit signed integer.
    case int8 = 1
    /// 16-bit unsigned integer.
    case uint16 = 2
    /// 16-bit signed integer.
    case int16 = 3
    /// 32-bit unsigned integer.
    case uint32 = 4
    /// 32-bit signed integer.
    case int32 = 5
    /// IEEE binary32.
    case float32 = 6
    /// One byte, 0 or 1.
    case bool = 7
    /// A uint64 byte length, then that many bytes of UTF-8 (no terminator).
    case string = 8
    /// An element type, a uint64 count, then the elements.
    case array = 9
    /// 64-bit unsigned integer.
    case uint64 = 10
    /// 64-bit signed integer.
    case int64 = 11
    /// IEEE binary64.
    case float64 = 12

    /// The name llama.cpp's tools print for the type ("UINT32", "STRING", …).
    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Bytes one value takes in the file, or nil for strings and arrays (variable length).
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One GGUF metadata value, with its stored type kept (a UINT32 is not an INT32).
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    /// An 8-bit unsigned integer.
    case uint8(UInt8)
    /// An 8-bit signed integer.
    case int8(Int8)
    /// A 16-bit unsigned integer.
    case uint16(UInt16)
    /// A 16-bit signed integer.
    case int16(Int16)
    /// A 32-bit unsigned integer.
    case uint32(UInt32)
    /// A 32-bit signed integer.
    case int32(Int32)
    /// An IEEE binary32.
    case float32(Float)
    /// A boolean.
    case bool(Bool)
    /// A UTF-8 string.
    case string(String)
    /// An array: its element type and elements (all of that type; arrays may nest).
    case array(GGUFValueType, [GGUFValue])
    /// A 64-bit unsigned integer.
    case uint64(UInt64)
    /// A 64-bit signed integer.
    case int64(Int64)
    /// An IEEE binary64.
    case float64(Double)

    /// The stored type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The value as an `Int` if it is an integer of any width that fits, else nil.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value as a `Double` if it is a float or an integer, else nil.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The string, if the value is one.
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The elements, if the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case let .array(_, elements) = self { return elements }
        return nil
    }

    /// The value as short text for messages (long arrays are summarised).
    public var description: String {
        switch self {
        case let .uint8(v): return "\(v)"
        case let .int8(v): return "\(v)"
        case let .uint16(v): return "\(v)"
        case let .int16(v): return "\(v)"
        case let .uint32(v): return "\(v)"
        case let .int32(v): return "\(v)"
        case let .float32(v): return "\(v)"
        case let .bool(v): return "\(v)"
        case let .string(s): return s.count > 60 ? "\"\(s.prefix(60))…\"" : "\"\(s)\""
        case let .array(type, elements):
            let shown = elements.prefix(4).map(\.description).joined(separator: ", ")
            return "[\(type)] × \(elements.count) [\(shown)\(elements.count > 4 ? ", …" : "")]"
        case let .uint64(v): return "\(v)"
        case let .int64(v): return "\(v)"
        case let .float64(v): return "\(v)"
        }
    }
}
