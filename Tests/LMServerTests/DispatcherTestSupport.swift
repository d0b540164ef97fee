import Foundation
import LMEngine
import LMProtocol
import TestSupport
import XCTest

@testable import LMServer

/// The tiny model, loaded once for all dispatcher tests.
enum TinyEngine {
    private static let loaded: Result<Engine, Error> = Result {
        var options = EngineOptions()
        options.threads = 1
        return try Engine.load(modelDirectory: Fixtures.tinyModel, options: options)
    }

    static func get() throws -> Engine { try loaded.get() }
}

/// A sink that keeps every line and lets a test wait for them.
final class CollectingSink: ReplySink, @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [[UInt8]] = []
    private var accepting = true

    /// Makes later sends report failure (a peer that went away).
    func refuse() { condition.lock(); accepting = false; condition.unlock() }

    func send(line: [UInt8]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        lines.append(line)
        condition.broadcast()
        return accepting
    }

    /// Every line so far, parsed.
    var values: [JSONValue] {
        condition.lock()
        defer { condition.unlock() }
        return lines.compactMap { try? JSONValue.parse($0) }
    }

    /// Every line so far, raw.
    var rawLines: [[UInt8]] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    var count: Int { condition.lock(); defer { condition.unlock() }; return lines.count }

    /// Waits until at least `n` lines have arrived (or fails after `timeout`), and returns them parsed.
    @discardableResult
    func wait(for n: Int, timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line) -> [JSONValue] {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        while lines.count < n {
            if !condition.wait(until: deadline) { break }
        }
        let got = lines.count
        condition.unlock()
        if got < n { XCTFail("waited for \(n) lines, got \(got)", file: file, line: line) }
        return values
    }

    /// Waits for the response with `id`.
    func response(_ id: RPCID, timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = values.first(where: { $0["id"] == id.json && $0["method"] == nil }) { return r }
            condition.lock()
            _ = condition.wait(until: min(deadline, Date().addingTimeInterval(0.05)))
            condition.unlock()
        }
        XCTFail("no response with id \(id)", file: file, line: line)
        return nil
    }
}

/// An engine that can hold model work at the door until released (or until the work is cancelled), so
/// that "running" and "queued" are states a test controls rather than races it hopes to win.
final class GatedEngine: DispatchEngine, @unchecked Sendable {
    let inner: Engine
    private let condition = NSCondition()
    private var holding = false
    private var started = 0
    private(set) var sawCancelledFlag = false

    init(_ inner: Engine) { self.inner = inner }

    var info: ModelInfo { inner.info }

    /// Model calls from now on wait at the door.
    func hold() { condition.lock(); holding = true; condition.unlock() }

    /// Lets waiting and later model calls through.
    func release() { condition.lock(); holding = false; condition.broadcast(); condition.unlock() }

    /// Waits until `n` model calls have reached the door.
    func waitUntilStarted(_ n: Int, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while started < n { if !condition.wait(until: deadline) { return false } }
        return true
    }

    var wasCancelled: Bool { condition.lock(); defer { condition.unlock() }; return sawCancelledFlag }

    private func door(_ cancel: CancellationFlag?) {
        condition.lock()
        started += 1
        condition.broadcast()
        while holding && !(cancel?.isCancelled ?? false) { _ = condition.wait(until: Date().addingTimeInterval(0.01)) }
        if cancel?.isCancelled ?? false { sawCancelledFlag = true }
        condition.unlock()
    }

    func tokenize(_ text: String, addPrefixSpace: Bool) -> [TokenSpan] { inner.tokenize(text, addPrefixSpace: addPrefixSpace) }
    func encode(_ text: String, addPrefixSpace: Bool) -> [Int] { inner.encode(text, addPrefixSpace: addPrefixSpace) }
    func decode(_ ids: [Int]) throws -> String { try inner.decode(ids) }
    func tokenText(_ id: Int) throws -> String { try inner.tokenText(id) }
    func tokenBytes(_ id: Int) throws -> [UInt8] { try inner.tokenBytes(id) }

    func forward(ids: [Int], positions: LogitPositions, cancel: CancellationFlag?) throws -> Logits {
        door(cancel)
        return try inner.forward(ids: ids, positions: positions, cancel: cancel)
    }

    func topK(ids: [Int], k: Int, cancel: CancellationFlag?) throws -> TopK {
        door(cancel)
        return try inner.topK(ids: ids, k: k, cancel: cancel)
    }

    func generate(ids: [Int], options: GenerationOptions, cancel: CancellationFlag?, onToken: (GeneratedToken) -> Void) throws -> Generation {
        door(cancel)
        return try inner.generate(ids: ids, options: options, cancel: cancel, onToken: onToken)
    }

    func suggest(text: String, options: SuggestionOptions, cancel: CancellationFlag?) throws -> Suggestions {
        door(cancel)
        return try inner.suggest(text: text, options: options, cancel: cancel)
    }
}

extension DispatcherSession {
    /// Sends one message as a line.
    func send(_ message: JSONValue) { receive(line: message.serialized()) }

    /// Sends a request.
    func request(_ id: RPCID, _ method: String, _ params: JSONValue? = nil) {
        send(RPCRequest(id: id, method: method, params: params).json)
    }

    /// Sends a notification.
    func notify(_ method: String, _ params: JSONValue? = nil) {
        send(RPCRequest(id: nil, method: method, params: params).json)
    }
}

extension JSONValue {
    /// The error code of a response.
    var errorCode: Int? { self["error"]?["code"]?.intValue }
    /// The result of a response.
    var result: JSONValue? { self["result"] }
}
