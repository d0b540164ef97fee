/// A JSON object: string keys mapped to values, iterated in the order members were first inserted.
/// Equality ignores order (as JSON does); setting an existing key keeps its place.
public struct JSONObject: Hashable, Sendable {
    /// One reference, so that `JSONValue` stays small (copy-on-write keeps value semantics).
    private final class Storage: @unchecked Sendable {
        var keys: [String] = []
        var values: [JSONValue] = []
        /// Positions by key, built only once the object is big enough for linear search to cost more.
        var positions: [String: Int]? = nil

        init() {}

        func copy() -> Storage {
            let s = Storage()
            s.keys = keys; s.values = values; s.positions = positions
            return s
        }
    }

    private var storage = Storage()
    private static let indexThreshold = 12

    /// An empty object.
    public init() {}

    /// An object with `pairs`, in order (a repeated key keeps the last value, at the first place).
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        for (key, value) in pairs { self[key] = value }
    }

    /// Number of members.
    public var count: Int { storage.keys.count }

    /// Whether there are no members.
    public var isEmpty: Bool { storage.keys.isEmpty }

    /// The keys, in order.
    public var keys: [String] { storage.keys }

    /// The values, in key order.
    public var values: [JSONValue] { storage.values }

    private func position(of key: String) -> Int? {
        if let positions = storage.positions { return positions[key] }
        return storage.keys.firstIndex(of: key)
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// The value for `key`; assigning `nil` removes the member.
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { storage.values[$0] } }
        set {
            makeUnique()
            let s = storage
            if let i = position(of: key) {
                if let newValue {
                    s.values[i] = newValue
                } else {
                    s.keys.remove(at: i)
                    s.values.remove(at: i)
                    if s.positions != nil { rebuildPositions() }
                }
            } else if let newValue {
                s.keys.append(key)
                s.values.append(newValue)
                if s.positions != nil {
                    s.positions?[key] = s.keys.count - 1
                } else if s.keys.count > Self.indexThreshold {
                    rebuildPositions()
                }
            }
        }
    }

    private func rebuildPositions() {
        var map = [String: Int](minimumCapacity: storage.keys.count)
        for (i, key) in storage.keys.enumerated() { map[key] = i }
        storage.positions = map
    }

    /// Reserves room for `n` members.
    public mutating func reserveCapacity(_ n: Int) {
        makeUnique()
        storage.keys.reserveCapacity(n)
        storage.values.reserveCapacity(n)
    }

    /// Same members with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs where rhs[key] != value { return false }
        return true
    }

    /// Hashes order-independently, matching `==`.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for (key, value) in self {
            var h = Hasher()
            h.combine(key)
            h.combine(value)
            combined = combined &+ h.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONObject: Sequence {
    /// Iterates members in insertion order.
    public func makeIterator() -> AnyIterator<(key: String, value: JSONValue)> {
        var i = 0
        let keys = storage.keys, values = storage.values
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], values[i])
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object literal; members keep the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
