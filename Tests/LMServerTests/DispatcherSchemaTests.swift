import Foundation
import LMProtocol
import TestSupport
import XCTest

/// Every example's params and results checked against `protocol/schema.json`, with a small validator
/// for the keywords the schema uses.
final class DispatcherSchemaTests: XCTestCase {
    var schema: JSONValue = .null

    override func setUpWithError() throws {
        let url = Fixtures.repositoryRoot.appendingPathComponent("protocol/schema.json")
        schema = try JSONValue.parse(Array(try Data(contentsOf: url)))
    }

    private func def(_ name: String) throws -> JSONValue { try XCTUnwrap(schema["$defs"]?[name], name) }

    func testSchemaNamesEveryMethod() throws {
        XCTAssertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        for m in ["info", "tokenize", "detokenize", "forward", "topk", "complete", "suggest", "$/cancelRequest", "shutdown"] {
            XCTAssertNotNil(schema["$defs"]?["\(m).params"], m)
            XCTAssertNotNil(schema["$defs"]?["\(m).result"], m)
        }
        XCTAssertNotNil(schema["$defs"]?["complete/delta.params"])
    }

    func testExamplesFollowTheSchema() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("protocol/examples")
        var checked = 0, refusedByServerAndSchema = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".jsonl") {
            let transcript = try Transcript(contentsOf: dir.appendingPathComponent(file))
            var requests: [JSONValue: JSONValue] = [:]  // id → request
            for line in transcript.sends {
                guard let v = try? JSONValue.parse(line) else { continue }
                for m in v.arrayValue ?? [v] where m["method"] != nil { if let id = m["id"] { requests[id] = m } }
            }
            for recv in transcript.recvs {
                for m in recv.arrayValue ?? [recv] {
                    if let method = m["method"]?.stringValue {
                        XCTAssertEqual(problems(m["params"] ?? .null, try def("\(method).params")), [], "\(file): \(m)")
                        checked += 1
                        continue
                    }
                    XCTAssertEqual(problems(m, try def("response")), [], "\(file): \(m)")
                    guard let id = m["id"], let request = requests[id], let method = request["method"]?.stringValue,
                        let paramsSchema = schema["$defs"]?["\(method).params"]
                    else { continue }
                    let params = request["params"] ?? .object(JSONObject())
                    if let result = m["result"] {
                        XCTAssertEqual(problems(result, try def("\(method).result")), [], "\(file): \(m)")
                        XCTAssertEqual(problems(params, paramsSchema), [], "accepted params follow the schema: \(file): \(request)")
                        checked += 2
                    } else if m["error"]?["code"] == -32602, !["ids[0]", "k", "ids", "params"].contains(m["error"]?["data"]?["param"] ?? .null) {
                        // Refusals the schema can express (not vocabulary- or length-dependent ones).
                        XCTAssertNotEqual(problems(params, paramsSchema), [], "refused params break the schema: \(file): \(request)")
                        refusedByServerAndSchema += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 60)
        XCTAssertGreaterThan(refusedByServerAndSchema, 2)
    }

    func testTheValidatorCanFail() throws {
        XCTAssertNotEqual(problems(["text": "a", "k": 0], try def("topk.params")), [])
        XCTAssertNotEqual(problems(["text": "a", "ids": [1]], try def("topk.params")), [])
        XCTAssertNotEqual(problems([:], try def("topk.params")), [])
        XCTAssertNotEqual(problems(["text": "a", "positions": "some"], try def("forward.params")), [])
        XCTAssertNotEqual(problems(["ids": [1], "tokens": ["a"], "offsets": [[0]]], try def("tokenize.result")), [])
        XCTAssertNotEqual(problems(["text": "x", "extra": 1], try def("detokenize.result")), [])
        XCTAssertEqual(problems(["text": "a", "k": 3, "unknown": true], try def("topk.params")), [])
    }

    // MARK: a validator for the subset of JSON Schema 2020-12 that schema.json uses

    func problems(_ value: JSONValue, _ s: JSONValue, path: String = "$") -> [String] {
        var out: [String] = []
        if let ref = s["$ref"]?.stringValue {
            let name = ref.replacingOccurrences(of: "#/$defs/", with: "")
            guard let target = schema["$defs"]?[name] else { return ["\(path): unknown $ref \(ref)"] }
            out += problems(value, target, path: path)
        }
        if let t = s["type"] {
            let types = t.stringArray ?? [t.stringValue ?? ""]
            if !types.contains(where: { matches(value, type: $0) }) { out.append("\(path): not \(types)") }
        }
        if let c = s["const"], !same(c, value) { out.append("\(path): not \(c)") }
        if let e = s["enum"]?.arrayValue, !e.contains(where: { same($0, value) }) { out.append("\(path): not one of \(e)") }
        if let d = value.doubleValue, value.boolValue == nil {
            if let m = s["minimum"]?.doubleValue, d < m { out.append("\(path): below \(m)") }
            if let m = s["maximum"]?.doubleValue, d > m { out.append("\(path): above \(m)") }
            if let m = s["exclusiveMinimum"]?.doubleValue, d <= m { out.append("\(path): not above \(m)") }
        }
        if let str = value.stringValue, let m = s["minLength"]?.intValue, str.count < m { out.append("\(path): shorter than \(m)") }
        if case let .object(o) = value {
            for r in s["required"]?.stringArray ?? [] where o[r] == nil { out.append("\(path): missing \(r)") }
            let props = s["properties"]?.objectValue ?? JSONObject()
            for (k, v) in o {
                if let ps = props[k] { out += problems(v, ps, path: "\(path).\(k)") }
                else if s["additionalProperties"] == false { out.append("\(path): unexpected member \(k)") }
            }
        }
        if case let .array(a) = value {
            if let m = s["minItems"]?.intValue, a.count < m { out.append("\(path): fewer than \(m) items") }
            if let m = s["maxItems"]?.intValue, a.count > m { out.append("\(path): more than \(m) items") }
            let prefix = s["prefixItems"]?.arrayValue ?? []
            for (i, e) in a.enumerated() {
                if i < prefix.count { out += problems(e, prefix[i], path: "\(path)[\(i)]") }
                else if let items = s["items"] { out += problems(e, items, path: "\(path)[\(i)]") }
            }
        }
        for sub in s["allOf"]?.arrayValue ?? [] { out += problems(value, sub, path: path) }
        if let one = s["oneOf"]?.arrayValue {
            let passing = one.filter { problems(value, $0, path: path).isEmpty }.count
            if passing != 1 { out.append("\(path): matches \(passing) of oneOf, not exactly 1") }
        }
        if let not = s["not"], problems(value, not, path: path).isEmpty { out.append("\(path): matches a 'not'") }
        return out
    }

    private func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
        case ("integer", .int): return true
        case ("integer", .double(let d)): return JSONValue.double(d).intValue != nil
        case ("number", .int), ("number", .double): return true
        default: return false
        }
    }

    private func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue, a.boolValue == nil, b.boolValue == nil { return x == y }
        return a == b
    }
}
