import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The built executables (`lmd`, `lmctl`) beside the test bundle, and a way to run them.
public enum Products {
    /// The build products folder: where the test bundle sits (`.build/<triple>/debug`).
    public static var directory: URL {
        // On Linux the test runner is the `<package>PackageTests.xctest` executable in the products folder.
        let runner = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var candidates = [runner.deletingLastPathComponent(), Bundle.main.bundleURL]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for folder in candidates where FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("lmd").path) {
            return folder
        }
        return runner.deletingLastPathComponent()
    }

    /// The path of the built executable `name`.
    public static func executable(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// What a finished process printed and how it ended.
public struct ProcessOutcome {
    /// The exit status (128 + signal when killed; -1 when it had to be killed after the timeout).
    public var status: Int32
    /// Everything written to stdout.
    public var stdout: String
    /// Everything written to stderr.
    public var stderr: String
}

/// Runs an executable to completion with a timeout.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`, feeding `input` on stdin; kills it after `timeout` seconds.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
        timeout: TimeInterval = 120
    ) throws -> ProcessOutcome {
        let folder = try Fixtures.temporaryDirectory("run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let finished = waitForExit(process, timeout: timeout)
        if !finished { process.terminate(); process.waitUntilExit() }
        let status: Int32 = finished ? exitStatus(process) : -1
        return ProcessOutcome(
            status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Waits until `process` exits; false if `timeout` passed first.
    public static func waitForExit(_ process: Process, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        process.waitUntilExit()
        return true
    }

    /// The exit status, or 128 + signal.
    public static func exitStatus(_ process: Process) -> Int32 {
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}

/// A real `lmd` started for a test on its own socket; stopped (SIGKILL if need be) when released.
public final class DaemonProcess {
    /// The running process.
    public let process: Process
    /// The socket it serves (nil in --stdio mode).
    public let socketPath: String?
    /// Its stderr (the log), captured to a file.
    public let logURL: URL
    /// Its stdin (used in --stdio mode).
    public let input: Pipe
    /// Its stdout (used in --stdio mode).
    public let output: Pipe

    /// Starts `lmd --model <tiny model> --socket socketPath <extra>` and waits until it answers on the socket.
    public static func start(
        socketPath: String, model: URL = Fixtures.tinyModel, extraArguments: [String] = [], timeout: TimeInterval = 60
    ) throws -> DaemonProcess {
        let daemon = try DaemonProcess(arguments: ["--model", model.path, "--socket", socketPath] + extraArguments, socketPath: socketPath)
        try daemon.waitUntilListening(timeout: timeout)
        return daemon
    }

    /// Starts `lmd` with exactly `arguments` (not waiting for anything).
    public init(arguments: [String], socketPath: String? = nil) throws {
        self.socketPath = socketPath
        let folder = try Fixtures.temporaryDirectory("lmdlog")
        logURL = folder.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process = Process()
        process.executableURL = Products.executable("lmd")
        process.arguments = arguments
        process.standardError = try FileHandle(forWritingTo: logURL)
        input = Pipe()
        output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: logURL.deletingLastPathComponent())
    }

    /// Waits until something accepts connections on the socket; throws (with the log) if lmd exits first.
    public func waitUntilListening(timeout: TimeInterval = 60) throws {
        guard let socketPath else { return }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if Self.canConnect(socketPath) { return }
            if !process.isRunning {
                throw DaemonProcessError("lmd exited with status \(ProcessRunner.exitStatus(process)) before listening: \(log)")
            }
            usleep(20_000)
        }
        throw DaemonProcessError("lmd did not listen on \(socketPath) within \(timeout) s: \(log)")
    }

    /// Sends `signal` (SIGTERM by default).
    public func signal(_ number: Int32 = SIGTERM) { kill(process.processIdentifier, number) }

    /// Waits for the exit status (nil if still running after `timeout`).
    public func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        ProcessRunner.waitForExit(process, timeout: timeout) ? ProcessRunner.exitStatus(process) : nil
    }

    /// What lmd has logged so far.
    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// True when a connection to `path` succeeds now.
    public static func canConnect(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }
}

/// A daemon that would not start or stop as a test needed.
public struct DaemonProcessError: Error, CustomStringConvertible {
    /// What happened.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
