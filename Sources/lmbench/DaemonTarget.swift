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

/// An `lmd` process started for the benchmark and stopped after it.
final class DaemonProcess {
    /// Its process id.
    let pid: Int32
    /// Its socket.
    let socketPath: String
    /// Seconds from spawning it to its first answer (process start, model load, socket up).
    private(set) var startSeconds: Double = 0

    private let process: Process
    private let folder: URL

    /// The `lmd` executable next to this one, if built.
    static func executableNextToSelf() -> String? {
        let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let path = own.deletingLastPathComponent().appendingPathComponent("lmd").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Starts `lmd --model model --socket TMP --threads threads` and waits until it answers `info`.
    init(executable: String, model: URL, threads: Int, timeout: Double = 300) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        socketPath = folder.appendingPathComponent("lmd.sock").path
        let logURL = folder.appendingPathComponent("lmd.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)

        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--model", model.path, "--socket", socketPath, "--threads", String(threads), "--log-level", "error"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: logURL)
        let start = now()
        try process.run()
        pid = process.processIdentifier

        while true {
            if !process.isRunning {
                let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
                throw BenchError.daemon("lmd exited with status \(process.terminationStatus) before answering: \(log.suffix(500))")
            }
            if let client = try? LMClient(socketPath: socketPath, timeout: timeout),
               (try? client.call("info")) != nil {
                client.close()
                break
            }
            if now() - start > timeout {
                stop()
                throw BenchError.daemon("lmd did not answer within \(Int(timeout)) s (log: \(logURL.path))")
            }
            usleep(5_000)
        }
        startSeconds = now() - start
    }

    /// Peak resident memory of the daemon so far.
    var peakRSS: Int? { ProcessMemory.peakRSS(pid: String(pid)) }

    /// Asks the daemon to shut down, then ends it by its pid if it has not within 5 s; removes its folder.
    func stop() {
        if process.isRunning {
            if let client = try? LMClient(socketPath: socketPath, timeout: 5) {
                _ = try? client.call("shutdown")
                client.close()
            }
            let deadline = now() + 5
            while process.isRunning, now() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    deinit { stop() }
}
