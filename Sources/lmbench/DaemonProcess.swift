import Foundation
import LMClient

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
