import Foundation
import LMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Starts `lmd` in the background for a client that found nobody listening.
public enum DaemonLauncher {
    /// The `lmd` next to the running executable, else the first on `PATH`.
    public static func findDaemon() -> String? {
        let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let sibling = own.deletingLastPathComponent().appendingPathComponent("lmd").path
        if access(sibling, X_OK) == 0 { return sibling }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where !folder.isEmpty {
            let candidate = "\(folder)/lmd"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Where a started daemon's log goes: beside its socket.
    public static func logPath(forSocket socketPath: String) -> String { socketPath + ".log" }

    /// Starts `lmd --model model --socket socketPath` detached (its own process group, stdin/stdout on
    /// /dev/null, stderr appended to `logPath(forSocket:)`) and waits until it answers on the socket.
    /// Throws `LMClientError.cannotStart` if it exits first or does not answer within `timeout` seconds.
    public static func start(
        daemonPath: String, model: String, socketPath: String, extraArguments: [String] = [], timeout: TimeInterval = 60
    ) throws {
        try SocketPath.validate(socketPath)
        try SocketPath.prepareDirectory(for: socketPath)
        let log = logPath(forSocket: socketPath)
        let arguments = [daemonPath, "--model", model, "--socket", socketPath] + extraArguments
        let pid = try spawn(arguments, logPath: log)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if SocketPath.isListening(socketPath) { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                throw LMClientError.cannotStart("lmd exited with status \(code): \(lastLine(of: log) ?? "no message") (log: \(log))")
            }
            usleep(50_000)
        }
        throw LMClientError.cannotStart("lmd did not answer on \(socketPath) within \(Int(timeout)) seconds (log: \(log))")
    }

    private static func spawn(_ arguments: [String], logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // The daemon outlives us: it must not hold our descriptors open (a parent watching for our exit
        // through an inherited socket or pipe would otherwise wait for the daemon instead).
        for fd in openDescriptors() where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group: a Ctrl-C meant for the client must not stop the daemon it started.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        if status != 0 {
            throw LMClientError.cannotStart("\(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    private static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }
    }

    private static func lastLine(of path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data.suffix(4096), as: UTF8.self)
        return text.split(separator: "\n").last.map(String.init)
    }
}
