import TestSupport
import Foundation
import LMEngine
import LMProtocol
import XCTest

@testable import LMServer

/// Seeded fuzzing of the dispatcher with the tiny model: JSON-RPC lines, valid and mutated, go through a
/// session; every line gets exactly the replies JSON-RPC says (one per request, none per notification,
/// one array per batch with requests), each a valid one-line JSON-RPC response, and none is an internal
/// error. See fuzz/README.md.
final class FuzzDispatcherTests: XCTestCase {
    static let methods = ["info", "tokenize", "detokenize", "topk", "complete", "suggest", "forward", "$/cancelRequest", "nope"]
    static let texts = ["", "Hello", " world", "I wish I we", "日本語 😀", "<|endoftext|>x", "a\nb", "\u{0}", "\u{2028}", "Once upon a time"]

    /// A request for a cheap method with random (mostly valid) params.
    static func request(_ rng: inout FuzzRandom, id: Int) -> JSONValue {
        let method = rng.pick(methods)
        var params = JSONObject()
        if rng.chance(0.7) { params["text"] = .string(rng.pick(texts)) } else { params["ids"] = .array((0..<rng.int(0...5)).map { _ in .int(rng.int(-1...50_257)) }) }
        switch method {
        case "topk": params["k"] = .int(rng.int(0...20))
        case "complete":
            params["max_tokens"] = .int(rng.int(0...6))
            if rng.chance(0.3) { params["stream"] = true }
            if rng.chance(0.3) { params["temperature"] = .double(Double(rng.int(0...20)) / 10); params["seed"] = .int(rng.int(0...99)) }
            if rng.chance(0.2) { params["stop"] = [.string(rng.pick(texts))] }
            if rng.chance(0.2) { params["logprobs"] = .int(rng.int(0...3)) }
        case "suggest": params["n"] = .int(rng.int(0...4)); params["max_tokens"] = .int(rng.int(0...4))
        case "forward": params["positions"] = "last"; params["encoding"] = rng.chance(0.5) ? "base64" : "json"
        case "$/cancelRequest": params = ["id": .int(rng.int(0...id))]
        default: break
        }
        var o: JSONObject = ["jsonrpc": "2.0", "method": .string(method), "params": .object(params)]
        if rng.chance(0.9) { o["id"] = rng.chance(0.8) ? .int(id) : .string("s\(id)") }
        return .object(o)
    }

    static let insertions: [[UInt8]] = ["\"", "\\", "{", "}", "[", "]", ",", ":", "\\ud800", "1e999", "99999999999999999999",
                                        "null", "-", "0", "[[[[[[[[", "\"id\":", "\"params\":", "\"text\":\"", "\"k\":"].map { Array($0.utf8) }
        + [[0x00], [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0x0A]]

    /// `line` after a few byte-level mutations (no newline inside: the framer never passes one).
    static func mutate(_ line: [UInt8], _ rng: inout FuzzRandom) -> [UInt8] {
        var b = line
        for _ in 0..<rng.int(1...3) {
            let at = rng.int(0...b.count)
            switch rng.int(0...4) {
            case 0 where !b.isEmpty: b[rng.int(0...(b.count - 1))] ^= 1 << UInt8(rng.int(0...7))
            case 1: b.removeSubrange(at..<min(b.count, at + rng.int(1...6)))
            case 2: b.removeSubrange(at...)
            default: b.insert(contentsOf: rng.pick(insertions), at: at)
            }
        }
        return b.filter { $0 != 0x0A }
    }

    /// The replies JSON-RPC requires for one line: ids of single responses, sizes of batch replies.
    static func expectedReplies(_ line: [UInt8]) -> (ids: [JSONValue], batches: [Int], shutdown: Bool) {
        func answered(_ r: Result<RPCRequest, RPCInvalidMessage>) -> JSONValue? {
            switch r {
            case let .success(request): return request.id?.json
            case let .failure(refused): return refused.id?.json ?? .null
            }
        }
        func isShutdown(_ r: Result<RPCRequest, RPCInvalidMessage>) -> Bool { (try? r.get())?.method == "shutdown" }
        switch RPCIncoming.decode(line: line) {
        case let .single(r): return (answered(r).map { [$0] } ?? [], [], isShutdown(r))
        case let .batch(rs):
            let n = rs.compactMap(answered).count
            return ([], n > 0 ? [n] : [], rs.contains(where: isShutdown))
        }
    }

    func testEveryLineGetsExactlyTheRepliesItShould() throws {
        let dispatcher = Dispatcher(engine: try TinyEngine.get())
        var replies = 0, errorCodes: [Int: Int] = [:]
        let ran = FuzzRunner("dispatcher", cases: 120, seed: 41).run(in: self) { rng, label in
            let sink = CollectingSink()
            let session = dispatcher.openSession(sink: sink)
            var sent: [[UInt8]] = []
            var wantIDs: [JSONValue] = [], wantBatches: [Int] = []
            for k in 0..<rng.int(1...8) {
                var line: [UInt8]
                if rng.chance(0.1) {
                    line = JSONValue.array((0..<rng.int(1...3)).map { j in Self.request(&rng, id: 100 * k + j) }).serialized()
                } else {
                    line = Self.request(&rng, id: k).serialized()
                }
                if rng.chance(0.5) { line = Self.mutate(line, &rng) }
                let want = Self.expectedReplies(line)
                if want.shutdown { continue }  // would stop this dispatcher for the cases after
                sent.append(line)
                wantIDs += want.ids
                wantBatches += want.batches
                session.receive(line: line)
            }
            let context = "\(label): lines \(sent.map { $0.fuzzDescription })"
            let total = wantIDs.count + wantBatches.count
            let deadline = Date().addingTimeInterval(30)
            while Self.responses(sink.rawLines).count < total && Date() < deadline { usleep(1_000) }
            dispatcher.waitUntilIdle()
            let raw = sink.rawLines
            session.close()

            var gotIDs: [JSONValue] = [], gotBatches: [Int] = []
            for line in raw {
                XCTAssertFalse(line.contains(0x0A), "\(context): a reply holds a newline")
                guard let value = try? JSONValue.parse(line) else {
                    XCTFail("\(context): a reply is not JSON: \(line.fuzzDescription)")
                    continue
                }
                if let batch = value.arrayValue {
                    gotBatches.append(batch.count)
                    batch.forEach { check(response: $0, context: context, codes: &errorCodes) }
                } else if value["method"] != nil {
                    XCTAssertEqual(value["method"], "complete/delta", "\(context): unexpected notification \(value)")
                } else {
                    gotIDs.append(value["id"] ?? "missing")
                    check(response: value, context: context, codes: &errorCodes)
                }
            }
            replies += gotIDs.count + gotBatches.count
            XCTAssertEqual(gotIDs.map(\.description).sorted(), wantIDs.map(\.description).sorted(), "\(context): response ids")
            XCTAssertEqual(gotBatches.sorted(), wantBatches.sorted(), "\(context): batch replies")
        }
        print("fuzz dispatcher: \(replies) replies; errors by code \(errorCodes.sorted { $0.key < $1.key })")
        if ran >= 50 { XCTAssertGreaterThan(errorCodes[-32700] ?? 0, 0, "mutations should make parse errors") }
    }

    /// The lines that are responses (not notifications), counting a batch reply as one.
    private static func responses(_ lines: [[UInt8]]) -> [[UInt8]] {
        lines.filter { line in (try? JSONValue.parse(line))?["method"] == nil }
    }

    private func check(response: JSONValue, context: String, codes: inout [Int: Int]) {
        XCTAssertEqual(response["jsonrpc"], "2.0", "\(context): \(response)")
        let hasResult = response.objectValue?.keys.contains("result") ?? false
        let error = response["error"]
        XCTAssertNotEqual(hasResult, error != nil, "\(context): a response has a result or an error: \(response)")
        guard let error else { return }
        let code = error["code"]?.intValue ?? 0
        codes[code, default: 0] += 1
        XCTAssertTrue([-32700, -32600, -32601, -32602, -32800, -32000].contains(code), "\(context): \(response)")
        XCTAssertFalse(error["message"]?.stringValue?.isEmpty ?? true, "\(context): \(response)")
    }
}
