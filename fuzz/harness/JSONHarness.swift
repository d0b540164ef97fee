// libFuzzer entry point for LMProtocol's JSON parser, serializer and JSON-RPC decoder. Built by
// fuzz/run.sh with swiftc into one module together with Sources/LMProtocol (see fuzz/README.md).
// A broken invariant traps with a message; libFuzzer then saves the input as a crash file.

/// Traps with `message` (and the input's first bytes) when `condition` is false.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String, _ input: UnsafeBufferPointer<UInt8>) {
    if !condition {
        fatalError("\(message()) — input: \(String(decoding: input.prefix(300), as: UTF8.self).debugDescription)")
    }
}

/// Equal, except that a double of `original` which is exactly a float32 only has to come back as that float32.
func sameUpToFloat32(_ original: JSONValue, _ copy: JSONValue) -> Bool {
    switch (original, copy) {
    case let (.double(x), .double(y)): return x == y || (Double(Float(x)) == x && Float(y) == Float(x))
    case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { sameUpToFloat32($0, $1) }
    case let (.object(x), .object(y)):
        return x.count == y.count && x.allSatisfy { m in y[m.key].map { sameUpToFloat32(m.value, $0) } ?? false }
    default: return original == copy
    }
}

/// What the error says holds of the input at its offset.
func checkError(_ error: JSONParseError, _ b: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
    let o = error.offset
    require(o >= 0 && o <= b.count, "offset \(o) outside the input of \(b.count) bytes (\(error))", b)
    let at: UInt8? = o < b.count ? b[o] : nil
    let ws: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    let numberStart = at.map { $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) } ?? false
    let ok: Bool
    switch error {
    case .empty: ok = b.allSatisfy(ws)
    case .unexpectedEnd: ok = o == b.count
    case let .unexpectedByte(x, _): ok = at == x
    case .invalidUTF8: ok = (at ?? 0) >= 0x80
    case let .controlCharacter(c, _): ok = at == c && c < 0x20
    case .invalidEscape: ok = at.map { $0 == UInt8(ascii: "\\") || !Array("0123456789abcdefABCDEF".utf8).contains($0) } ?? false
    case .loneSurrogate: ok = at == UInt8(ascii: "\\")
    case .invalidNumber, .numberOutOfRange: ok = numberStart
    case let .tooDeep(limit, _): ok = limit == maxDepth && (at == UInt8(ascii: "[") || at == UInt8(ascii: "{"))
    case .trailingData: ok = at.map { !ws($0) } ?? false && (try? JSONValue.parse(UnsafeBufferPointer(rebasing: b[..<o]), maxDepth: maxDepth)) != nil
    }
    require(ok, "\(error) does not describe the byte at its offset", b)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let b = UnsafeBufferPointer(start: data, count: size)
    // The last byte, when the input is long enough, sometimes picks a small depth limit.
    let maxDepth = size > 8 && b[size - 1] < 16 ? Int(b[size - 1]) : 512
    do {
        let value = try JSONValue.parse(b, maxDepth: maxDepth)
        let text = value.serialized()
        require(!text.contains { $0 < 0x20 }, "serialized text holds a control byte", b)
        let again: JSONValue
        do { again = try JSONValue.parse(text) } catch { fatalError("serialized text does not parse: \(error)") }
        require(sameUpToFloat32(value, again), "serialize → parse changed \(value) into \(again)", b)
        require((try? JSONValue.parse(again.serialized())) == again, "a second serialize → parse changed \(again)", b)
    } catch {
        checkError(error, b, maxDepth: maxDepth)
    }
    switch RPCIncoming.decode(line: b) {
    case let .single(.success(request)):
        guard case let .single(.success(again)) = RPCIncoming.decode(line: request.json.serialized()) else {
            fatalError("a decoded request does not decode again")
        }
        require(again.id == request.id && again.method == request.method, "request changed on the wire", b)
    case let .single(.failure(refused)):
        require(refused.error.code == -32700 || refused.error.code == -32600, "decode error \(refused.error)", b)
    case let .batch(results):
        require(!results.isEmpty, "an empty batch", b)
    }
    return 0
}
