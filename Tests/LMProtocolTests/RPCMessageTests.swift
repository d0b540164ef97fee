import LMProtocol
import XCTest

/// Request decoding (ids kept on errors), batches, and response encoding.
final class RPCMessageTests: XCTestCase {
    private func decode(_ text: String) -> RPCIncoming { RPCIncoming.decode(line: Array(text.utf8)) }

    private func single(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Result<RPCRequest, RPCInvalidMessage>? {
        guard case let .single(r) = decode(text) else { XCTFail("expected a single message", file: file, line: line); return nil }
        return r
    }

    private func invalid(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RPCInvalidMessage? {
        guard case let .failure(e)? = single(text, file: file, line: line) else {
            XCTFail("expected an invalid message", file: file, line: line)
            return nil
        }
        return e
    }

    func testRequestsAndNotifications() throws {
        let r = try single(#"{"jsonrpc":"2.0","id":7,"method":"topk","params":{"text":"a"},"extra":1}"#)?.get()
        XCTAssertEqual(r, RPCRequest(id: 7, method: "topk", params: ["text": "a"]))
        let s = try single(#"{"jsonrpc":"2.0","id":"abc","method":"info"}"#)?.get()
        XCTAssertEqual(s?.id, .string("abc"))
        XCTAssertNil(s?.params)
        let n = try single(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#)?.get()
        XCTAssertEqual(n?.isNotification, true)
        let nullParams = try single(#"{"jsonrpc":"2.0","id":1,"method":"info","params":null}"#)?.get()
        XCTAssertNil(nullParams?.params)
        let positional = try single(#"{"jsonrpc":"2.0","id":1,"method":"info","params":[1]}"#)?.get()
        XCTAssertEqual(positional?.params, [1], "arrays pass here; methods refuse them with -32602")
    }

    func testParseErrorHasNullIdAndOffset() {
        let e = invalid(#"{"jsonrpc":"2.0","id":1,"#)
        XCTAssertNil(e?.id)
        XCTAssertEqual(e?.error.code, -32700)
        XCTAssertEqual(e?.error.data?["offset"], 24)
        XCTAssertEqual(invalid("\u{1}")?.error.code, -32700)
    }

    func testInvalidRequestsKeepAValidId() {
        let cases: [(String, RPCID?, String)] = [
            (#"{"id":5,"method":"info"}"#, 5, "jsonrpc"),
            (#"{"jsonrpc":"1.0","id":5,"method":"info"}"#, 5, "jsonrpc"),
            (#"{"jsonrpc":2.0,"id":"x","method":"info"}"#, "x", "jsonrpc"),
            (#"{"jsonrpc":"2.0","id":5}"#, 5, "method is missing"),
            (#"{"jsonrpc":"2.0","id":5,"method":3}"#, 5, "method must be a string"),
            (#"{"jsonrpc":"2.0","id":5,"method":"info","params":"x"}"#, 5, "params must be an object or an array"),
            (#"{"jsonrpc":"2.0","id":5,"method":"info","params":4}"#, 5, "params"),
            (#"{"jsonrpc":"2.0","id":null,"method":"info"}"#, nil, "id must be an integer or a string"),
            (#"{"jsonrpc":"2.0","id":1.5,"method":"info"}"#, nil, "id"),
            (#"{"jsonrpc":"2.0","id":[1],"method":"info"}"#, nil, "id"),
            (#"{"jsonrpc":"2.0","id":true,"method":"info"}"#, nil, "id"),
            ("5", nil, "must be a JSON object"),
            (#""text""#, nil, "must be a JSON object"),
            ("null", nil, "must be a JSON object"),
        ]
        for (text, id, fragment) in cases {
            guard let e = invalid(text) else { continue }
            XCTAssertEqual(e.id, id, text)
            XCTAssertEqual(e.error.code, -32600, text)
            XCTAssertTrue(e.error.message.contains(fragment), "\(text): \(e.error.message)")
        }
    }

    func testBatches() {
        guard case let .single(.failure(empty)) = decode("[]") else { return XCTFail("empty batch") }
        XCTAssertEqual(empty.error.code, -32600)
        XCTAssertNil(empty.id)
        guard case let .batch(entries) = decode(#"[{"jsonrpc":"2.0","id":1,"method":"info"}, 1, {"jsonrpc":"2.0","method":"x"}]"#) else {
            return XCTFail("batch")
        }
        XCTAssertEqual(entries.count, 3)
        XCTAssertEqual(try entries[0].get().id, 1)
        guard case let .failure(e) = entries[1] else { return XCTFail("element 1 is invalid") }
        XCTAssertEqual(e.error.code, -32600)
        XCTAssertEqual(try entries[2].get().isNotification, true)
        guard case let .single(.failure(bad)) = decode("[1,") else { return XCTFail("broken batch") }
        XCTAssertEqual(bad.error.code, -32700)
    }

    func testResponseEncoding() {
        let ok = RPCResponse.success(id: 3, result: ["text": "hi"])
        XCTAssertEqual(String(decoding: ok.serialized(), as: UTF8.self), #"{"jsonrpc":"2.0","id":3,"result":{"text":"hi"}}"#)
        let err = RPCResponse.failure(id: nil, error: .invalidRequest("empty batch"))
        XCTAssertEqual(
            String(decoding: err.serialized(), as: UTF8.self),
            #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request: empty batch"}}"#)
        let fast = RPCResponse.serializedSuccess(id: "a", result: ["x": [1.5, nil]] as JSONValue)
        XCTAssertEqual(fast, RPCResponse.success(id: "a", result: ["x": [1.5, nil]]).serialized())
        XCTAssertEqual(RPCResponse(json: ok.json), ok)
        XCTAssertEqual(RPCResponse(json: err.json), err)
        XCTAssertNil(RPCResponse(json: ["jsonrpc": "2.0", "id": 1]))
    }

    func testErrorConstructors() {
        XCTAssertEqual(RPCError.methodNotFound("nope").code, -32601)
        XCTAssertEqual(RPCError.methodNotFound("nope").message, "Method not found: nope")
        let p = RPCError.invalidParams("k", "must be at least 1, not 0")
        XCTAssertEqual(p.code, -32602)
        XCTAssertEqual(p.message, "Invalid params: k must be at least 1, not 0")
        XCTAssertEqual(p.data?["param"], "k")
        XCTAssertEqual(RPCError.internalError("x").code, -32603)
        XCTAssertEqual(RPCError.requestCancelled().code, -32800)
        let busy = RPCError.serverBusy(limit: 256, scope: "connection")
        XCTAssertEqual(busy.code, -32000)
        XCTAssertEqual(busy.data?["limit"], 256)
        XCTAssertTrue(busy.message.contains("256"))
        XCTAssertEqual(RPCError(json: busy.json), busy)
        XCTAssertEqual(Set(RPCErrorCode.allCases.map(\.rawValue)), [-32700, -32600, -32601, -32602, -32603, -32800, -32000])
    }

    func testServerMessages() throws {
        let delta = CompleteDelta(requestID: 4, ids: [11], text: "a").notification
        XCTAssertEqual(try RPCServerMessage.decode(line: delta.json.serialized()), .notification(delta))
        let r = RPCResponse.success(id: 4, result: .null)
        XCTAssertEqual(try RPCServerMessage.decode(line: r.serialized()), .response(r))
        XCTAssertEqual(try RPCServerMessage.decode(line: JSONValue.array([r.json, r.json]).serialized()), .batch([r, r]))
        XCTAssertThrowsError(try RPCServerMessage.decode(line: Array("{".utf8)))
        XCTAssertEqual(RPCRequest(id: 1, method: "info").json, ["jsonrpc": "2.0", "id": 1, "method": "info"])
    }
}
