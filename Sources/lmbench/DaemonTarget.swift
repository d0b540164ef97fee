import Foundation
import LMClient
import LMProtocol

/// A live `lmd` that lmbench started: its process, socket and one client connection.
final class DaemonTarget: BenchTarget {
    /// The client connection of this target.
    let client: LMClient
    /// Where the daemon listens.
    let socketPath: String

    init(socketPath: String) throws {
        self.socketPath = socketPath
        self.client = try LMClient(socketPath: socketPath, timeout: 900)
    }

    deinit { client.close() }

    func topK(ids: [Int], k: Int) throws -> [Int] {
        let result = try client.call(TopKParams.method, params: TopKParams(input: .ids(ids), k: k).json)
        guard let array = result["ids"]?.arrayValue else { throw BenchError.daemon("topk answered without ids: \(result)") }
        return array.compactMap(\.intValue)
    }

    func complete(ids: [Int], maxTokens: Int) throws -> CompletionTiming {
        let params = CompleteParams(input: .ids(ids), maxTokens: maxTokens, temperature: 0, stream: true)
        let first = FirstArrival()
        let start = now()
        let result = try client.call(CompleteParams.method, params: params.json) { note in
            if note.method == CompleteDelta.method, note.params["ids"]?.arrayValue?.isEmpty == false { first.mark() }
        }
        let end = now()
        guard let newIds = result["ids"]?.arrayValue else { throw BenchError.daemon("complete answered without ids: \(result)") }
        return CompletionTiming(tokens: newIds.count, firstToken: (first.time ?? end) - start, total: end - start)
    }

    func connection() throws -> BenchTarget { try DaemonTarget(socketPath: socketPath) }

    /// The time of the first streamed token, set from the client's reader thread.
    private final class FirstArrival: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Double?
        func mark() {
            lock.lock()
            if value == nil { value = now() }
            lock.unlock()
        }
        var time: Double? { lock.lock(); defer { lock.unlock() }; return value }
    }
}
