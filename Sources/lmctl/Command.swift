import Foundation
import LMClient
import LMProtocol

/// One lmctl command: the method it calls, its params, and how its result is printed.
enum Command {
    case tokenize(String)
    case detokenize([Int])
    case forward(String, last: Bool)
    case topk(String, k: Int)
    case complete(String, params: JSONObject, stream: Bool)
    case suggest(params: JSONObject)
    case info
    case shutdown
    case call(String, JSONValue?)

    /// Whether an absent daemon should be started for this command (not just to stop it).
    var startsDaemon: Bool {
        if case .shutdown = self { return false }
        return true
    }

    static func parse(name: String, arguments: [String]) throws -> Command {
        var words = ArgumentList(arguments)
        let command: Command
        switch name {
        case "tokenize":
            command = .tokenize(try words.positional("TEXT"))
        case "detokenize":
            let texts = words.remaining()
            guard !texts.isEmpty else { throw Failure.usage("detokenize needs at least one token id") }
            command = .detokenize(try texts.map { text in
                guard let id = Int(text) else { throw Failure.usage("token ids are whole numbers, not \(text)") }
                return id
            })
        case "forward":
            let last = words.flag("--last")
            command = .forward(try words.positional("TEXT"), last: last)
        case "topk":
            let text = try words.positional("TEXT")
            var k = 10
            if let given = words.optionalPositional() {
                guard let value = Int(given), value >= 1 else { throw Failure.usage("K must be a whole number of at least 1, not \(given)") }
                k = value
            }
            command = .topk(text, k: k)
        case "complete":
            var params = JSONObject()
            let stream = words.flag("--stream")
            if let n = try words.option("--max-tokens", as: "a whole number", Int.init) { params["max_tokens"] = .int(n) }
            if let t = try words.option("--temperature", as: "a number", Double.init) { params["temperature"] = .double(t) }
            if let k = try words.option("--top-k", as: "a whole number", Int.init) { params["top_k"] = .int(k) }
            if let p = try words.option("--top-p", as: "a number", Double.init) { params["top_p"] = .double(p) }
            if let s = try words.option("--seed", as: "a whole number", Int.init) { params["seed"] = .int(s) }
            let stops = try words.repeatedOption("--stop")
            if !stops.isEmpty { params["stop"] = .array(stops.map { .string($0) }) }
            params["text"] = .string(try words.positional("TEXT"))
            if stream { params["stream"] = true }
            command = .complete(params["text"]?.stringValue ?? "", params: params, stream: stream)
        case "suggest":
            var params = JSONObject()
            if let n = try words.option("--max-tokens", as: "a whole number", Int.init) { params["max_tokens"] = .int(n) }
            if let stop = try words.option("--stop-at", as: "word, line or none", { ["word", "line", "none"].contains($0) ? $0 : nil }) {
                params["stop_at"] = .string(stop)
            }
            if words.flag("--no-heal") { params["heal"] = false }
            params["text"] = .string(try words.positional("TEXT"))
            if let given = words.optionalPositional() {
                guard let value = Int(given), value >= 1 else { throw Failure.usage("N must be a whole number of at least 1, not \(given)") }
                params["n"] = .int(value)
            }
            command = .suggest(params: params)
        case "info":
            command = .info
        case "shutdown":
            command = .shutdown
        case "call":
            let method = try words.positional("METHOD")
            var params: JSONValue?
            if let text = words.optionalPositional() {
                do { params = try JSONValue.parse(text) } catch { throw Failure.usage("the params are not valid JSON: \(error)") }
            }
            command = .call(method, params)
        default:
            throw Failure.usage("unknown command \(name)")
        }
        try words.finish()
        return command
    }

    func run(client: LMClient, json: Bool, addPrefixSpace: Bool) throws {
        /// Params with the tokenizer setting asked for on lmctl's command line (else the daemon's own).
        func with(_ params: JSONObject) -> JSONValue {
            var p = params
            if addPrefixSpace { p["add_prefix_space"] = true }
            return .object(p)
        }
        switch self {
        case let .tokenize(text):
            let result = try client.call("tokenize", params: with(["text": .string(text)]))
            if json { return printJSON(result) }
            Output.tokens(result)
        case let .detokenize(ids):
            let result = try client.call("detokenize", params: ["ids": .array(ids.map { .int($0) })])
            if json { return printJSON(result) }
            print(result["text"]?.stringValue ?? result.description)
        case let .forward(text, last):
            let result = try client.call(
                "forward", params: with(["text": .string(text), "positions": last ? "last" : "all", "encoding": "base64"]))
            if json { return printJSON(result) }
            try Output.logits(result, client: client)
        case let .topk(text, k):
            let result = try client.call("topk", params: with(["text": .string(text), "k": .int(k)]))
            if json { return printJSON(result) }
            Output.topK(result)
        case let .complete(_, params, stream):
            var printedAny = false
            let result: JSONValue
            if stream && !json {
                let printed = Flag()
                result = try client.call("complete", params: with(params), onNotification: { notification in
                    guard let delta = Output.deltaText(notification) else { return }
                    FileHandle.standardOutput.write(Data(delta.utf8))
                    printed.set()
                })
                printedAny = printed.isSet
            } else {
                result = try client.call("complete", params: with(params))
            }
            if json { return printJSON(result) }
            if !printedAny { FileHandle.standardOutput.write(Data((result["text"]?.stringValue ?? "").utf8)) }
            print()
        case let .suggest(params):
            let result = try client.call("suggest", params: with(params))
            if json { return printJSON(result) }
            Output.suggestions(result)
        case .info:
            let result = try client.call("info")
            if json { return printJSON(result) }
            Output.fields(result)
        case .shutdown:
            let result = try client.call("shutdown")
            if json { return printJSON(result) }
            print("lmd is shutting down")
        case let .call(method, params):
            printJSON(try client.call(method, params: params))
        }
    }

    private func printJSON(_ value: JSONValue) {
        print(value.description)
    }
}

/// A flag set from the reader thread and read after the call returns.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// The words after a command name, taken apart: flags and options anywhere, positionals in order.
struct ArgumentList {
    private var words: [String]

    init(_ words: [String]) { self.words = words }

    mutating func flag(_ name: String) -> Bool {
        guard let index = optionIndex(name) else { return false }
        words.remove(at: index)
        return true
    }

    mutating func option<T>(_ name: String, as kind: String, _ convert: (String) -> T?) throws -> T? {
        guard let index = optionIndex(name) else { return nil }
        guard index + 1 < words.count else { throw Failure.usage("\(name) needs a value") }
        let text = words[index + 1]
        words.removeSubrange(index...(index + 1))
        guard let value = convert(text) else { throw Failure.usage("\(name) needs \(kind), not \(text)") }
        return value
    }

    mutating func repeatedOption(_ name: String) throws -> [String] {
        var values: [String] = []
        while let index = optionIndex(name) {
            guard index + 1 < words.count else { throw Failure.usage("\(name) needs a value") }
            values.append(words[index + 1])
            words.removeSubrange(index...(index + 1))
        }
        return values
    }

    mutating func positional(_ name: String) throws -> String {
        guard let value = optionalPositional() else { throw Failure.usage("\(name) is missing") }
        return value
    }

    mutating func optionalPositional() -> String? {
        let end = words.firstIndex(of: "--") ?? words.count
        if let index = words[..<end].firstIndex(where: { !$0.hasPrefix("--") }) { return words.remove(at: index) }
        if end + 1 < words.count { return words.remove(at: end + 1) }
        return nil
    }

    mutating func remaining() -> [String] {
        let all = words.filter { $0 != "--" }
        words = []
        return all
    }

    func finish() throws {
        if let extra = words.first(where: { $0 != "--" }) {
            throw Failure.usage(extra.hasPrefix("--") ? "unknown option \(extra)" : "unexpected argument \(extra)")
        }
    }

    /// Options are recognised only before a "--" that ends them.
    private func optionIndex(_ name: String) -> Int? {
        let end = words.firstIndex(of: "--") ?? words.count
        return words[..<end].firstIndex(of: name)
    }
}
