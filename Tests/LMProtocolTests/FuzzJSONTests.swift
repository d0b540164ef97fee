import TestSupport
import LMProtocol
import XCTest

/// Seeded fuzzing of the JSON parser, the serializer and the JSON-RPC decoder (issue "Reliability and
/// security", item 4). Each test runs a fixed number of cases (a few seconds in a debug build) unless
/// `LMD_FUZZ_SECONDS` asks for a longer run; see fuzz/README.md.
final class FuzzJSONTests: XCTestCase {
    /// Valid messages written in random styles parse to exactly the value written, agree with the
    /// reference reader, and survive serialize → parse.
    func testValidTextInAnyStyleParsesToTheValueWritten() {
        FuzzRunner("json-valid", cases: 8_000, seed: 11).run(in: self) { rng, label in
            let value = rng.chance(0.7) ? FuzzJSONGenerator.message(&rng) : FuzzJSONGenerator.value(&rng, depth: 4)
            let text = FuzzJSONGenerator.write(value, &rng)
            do {
                let parsed = try JSONValue.parse(text)
                XCTAssertEqual(parsed, value, "\(label): \(text.fuzzDescription)")
                XCTAssertEqual(FuzzJSONReference.parse(text), value, "\(label): the reference reader disagrees")
                checkRoundTrip(parsed, label: label)
            } catch {
                XCTFail("\(label): refused valid JSON (\(error)): \(text.fuzzDescription)")
            }
            checkDecode(text, label: label)
        }
    }

    /// Mutated messages: the parser accepts exactly what the reference reader accepts, with the same
    /// value; every refusal names an offset inside the input that points at what it says; nothing crashes.
    func testMutatedTextIsRefusedWithAnOffsetOrAcceptedLikeTheReference() {
        var accepted = 0, refused = 0
        let ran = FuzzRunner("json-mutated", cases: 8_000, seed: 12).run(in: self) { rng, label in
            let value = rng.chance(0.8) ? FuzzJSONGenerator.message(&rng) : FuzzJSONGenerator.value(&rng, depth: 3)
            let text = FuzzJSONGenerator.mutate(FuzzJSONGenerator.write(value, &rng, spacing: rng.chance(0.3)), &rng)
            let maxDepth = rng.chance(0.8) ? 512 : rng.int(0...6)
            if check(text, maxDepth: maxDepth, label: label) { accepted += 1 } else { refused += 1 }
            checkDecode(text, label: label)
        }
        print("fuzz json-mutated: \(accepted) accepted, \(refused) refused")
        if ran >= 1_000 { XCTAssertGreaterThan(refused, ran / 2, "the mutations should break most texts") }
    }

    /// Short random byte strings over JSON's alphabet: the same agreement as for mutations.
    func testRandomBytesOverTheJSONAlphabet() {
        let alphabet = Array("{}[],:\"\\/ \t\n0123456789-+.eEtrufalsn".utf8) + [0x00, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0x9F]
        var accepted = 0
        let ran = FuzzRunner("json-bytes", cases: 100_000, seed: 13).run(in: self) { rng, label in
            let text = (0..<rng.int(0...12)).map { _ in rng.pick(alphabet) }
            if check(text, maxDepth: rng.chance(0.8) ? 512 : 2, label: label) { accepted += 1 }
            checkDecode(text, label: label)
        }
        print("fuzz json-bytes: \(accepted) accepted")
        if ran >= 1_000 { XCTAssertGreaterThan(accepted, 0, "some short texts are JSON") }
    }

    // MARK: invariants

    /// Parses `text`, compares with the reference and checks the error or the round trip. True if accepted.
    @discardableResult
    private func check(_ text: [UInt8], maxDepth: Int, label: String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let reference = FuzzJSONReference.parse(text, maxDepth: maxDepth)
        do {
            let value = try JSONValue.parse(text, maxDepth: maxDepth)
            XCTAssertEqual(value, reference, "\(label): accepted (depth \(maxDepth)), the reference \(reference == nil ? "refuses" : "differs"): \(text.fuzzDescription)",
                           file: file, line: line)
            checkRoundTrip(value, label: label, file: file, line: line)
            return true
        } catch {
            XCTAssertNil(reference, "\(label): refused (\(error)) text the reference accepts: \(text.fuzzDescription)", file: file, line: line)
            checkError(error, text: text, maxDepth: maxDepth, label: label, file: file, line: line)
            return false
        }
    }

    /// What an error says must be true of the input at its offset.
    private func checkError(_ error: JSONParseError, text: [UInt8], maxDepth: Int, label: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        let o = error.offset
        let context = "\(label): \(error) for \(text.fuzzDescription)"
        guard o >= 0, o <= text.count else {
            XCTFail("\(context): offset \(o) outside 0...\(text.count)", file: file, line: line)
            return
        }
        let at: UInt8? = o < text.count ? text[o] : nil
        let isWhitespace = { (c: UInt8) in c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        let startsNumber = at.map { $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) } ?? false
        let ok: Bool
        switch error {
        case .empty: ok = text.allSatisfy(isWhitespace)
        case .unexpectedEnd: ok = o == text.count
        case let .unexpectedByte(b, _): ok = at == b
        case .invalidUTF8: ok = (at ?? 0) >= 0x80
        case let .controlCharacter(c, _): ok = at == c && c < 0x20
        case .invalidEscape:
            ok = at.map { $0 == UInt8(ascii: "\\") || !Array("0123456789abcdefABCDEF".utf8).contains($0) } ?? false
        case .loneSurrogate: ok = at == UInt8(ascii: "\\")
        case .invalidNumber, .numberOutOfRange: ok = startsNumber
        case let .tooDeep(limit, _): ok = limit == maxDepth && (at == UInt8(ascii: "[") || at == UInt8(ascii: "{"))
        case .trailingData:
            ok = at.map { !isWhitespace($0) } ?? false && FuzzJSONReference.parse(Array(text[..<o]), maxDepth: maxDepth) != nil
        }
        XCTAssertTrue(ok, "\(context): the offset does not point at what the error says", file: file, line: line)
        XCTAssertFalse(error.description.isEmpty, file: file, line: line)
        if error != .empty { XCTAssertTrue(error.description.hasSuffix("byte \(o)"), context, file: file, line: line) }
    }

    /// serialize(value) is one line of valid JSON that reads back as the value (doubles that are exactly a
    /// float32 read back as the same float32, by design), and what it reads back as is stable.
    private func checkRoundTrip(_ value: JSONValue, label: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = value.serialized()
        XCTAssertFalse(text.contains { $0 < 0x20 }, "\(label): serialized text has a control byte: \(text.fuzzDescription)", file: file, line: line)
        XCTAssertNil(text.indices.first { text[$0] == 0xE2 && $0 + 2 < text.count && text[$0 + 1] == 0x80 && (text[$0 + 2] | 1) == 0xA9 },
                     "\(label): U+2028/U+2029 left unescaped", file: file, line: line)
        do {
            let again = try JSONValue.parse(text)
            XCTAssertTrue(Self.sameUpToFloat32(value, again), "\(label): \(value) became \(again)", file: file, line: line)
            // One pass settles it: what was read back is written and read back exactly (the text may differ
            // from the first, e.g. "9.007199e+15" then "9007199000000000.0", the same number).
            XCTAssertEqual(try? JSONValue.parse(again.serialized()), again, "\(label): a second serialize → parse changes \(again)",
                           file: file, line: line)
            XCTAssertEqual(FuzzJSONReference.parse(text), again, "\(label): the reference reads the serialized text differently",
                           file: file, line: line)
        } catch {
            XCTFail("\(label): serialized text does not parse (\(error)): \(text.fuzzDescription)", file: file, line: line)
        }
    }

    /// `copy` equals `original`, except that a double of `original` which is exactly a float32 only has to
    /// come back as the same float32 (the serializer writes it in float32's shortest form, by design).
    static func sameUpToFloat32(_ original: JSONValue, _ copy: JSONValue) -> Bool {
        switch (original, copy) {
        case let (.double(x), .double(y)):
            return x == y || (Double(Float(x)) == x && Float(y) == Float(x))
        case let (.array(x), .array(y)):
            return x.count == y.count && zip(x, y).allSatisfy { sameUpToFloat32($0, $1) }
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { member in y[member.key].map { sameUpToFloat32(member.value, $0) } ?? false }
        default:
            return original == copy
        }
    }

    /// RPCIncoming.decode agrees with the parser and with the JSON-RPC rules, keeping valid ids in errors.
    private func checkDecode(_ text: [UInt8], label: String, file: StaticString = #filePath, line: UInt = #line) {
        let incoming = RPCIncoming.decode(line: text)
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            guard case let .single(.failure(refused)) = incoming else {
                XCTFail("\(label): a parse error was decoded as \(incoming)", file: file, line: line)
                return
            }
            XCTAssertNil(refused.id, label, file: file, line: line)
            XCTAssertEqual(refused.error.code, -32700, label, file: file, line: line)
            XCTAssertEqual(refused.error.data?["offset"], .int(error.offset), label, file: file, line: line)
            return
        }
        switch (value, incoming) {
        case (.array([]), .single(.failure(let refused))):
            XCTAssertEqual(refused.error.code, -32600, label, file: file, line: line)
            XCTAssertNil(refused.id, label, file: file, line: line)
        case let (.array(elements), .batch(results)) where !elements.isEmpty:
            XCTAssertEqual(results.count, elements.count, "\(label): one result per batch element", file: file, line: line)
            for (element, result) in zip(elements, results) { checkOne(element, result, label: label, file: file, line: line) }
        case let (_, .single(result)) where value.arrayValue == nil:
            checkOne(value, result, label: label, file: file, line: line)
        default:
            XCTFail("\(label): \(value) decoded as \(incoming)", file: file, line: line)
        }
    }

    private func checkOne(_ value: JSONValue, _ result: Result<RPCRequest, RPCInvalidMessage>, label: String,
                          file: StaticString, line: UInt) {
        let rawID = value["id"]
        let validID = rawID.flatMap { RPCID(json: $0) }
        switch result {
        case let .success(request):
            XCTAssertEqual(value["jsonrpc"], "2.0", label, file: file, line: line)
            XCTAssertEqual(value["method"], .string(request.method), label, file: file, line: line)
            XCTAssertEqual(request.id, validID, label, file: file, line: line)
            XCTAssertTrue(rawID == nil || validID != nil, "\(label): accepted id \(rawID!)", file: file, line: line)
            // The request as the client library sends it decodes to the same request.
            let wire = request.json.serialized()
            guard case let .single(.success(again)) = RPCIncoming.decode(line: wire) else {
                XCTFail("\(label): \(wire.fuzzDescription) does not decode again", file: file, line: line)
                return
            }
            XCTAssertEqual(again.id, request.id, label, file: file, line: line)
            XCTAssertEqual(again.method, request.method, label, file: file, line: line)
            XCTAssertTrue(Self.sameUpToFloat32(request.params ?? .null, again.params ?? .null),
                          "\(label): params \(request.params ?? .null) came back as \(again.params ?? .null)", file: file, line: line)
        case let .failure(refused):
            XCTAssertEqual(refused.error.code, -32600, "\(label): \(refused.error)", file: file, line: line)
            XCTAssertEqual(refused.id, validID, "\(label): the error must keep a valid id", file: file, line: line)
            XCTAssertFalse(refused.error.message.isEmpty, label, file: file, line: line)
        }
    }
}
