import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How much the daemon says on stderr.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    /// Only failures.
    case error = 0
    /// Also start, listening, clients coming and going, shutdown.
    case info = 1
    /// Also per-request detail.
    case debug = 2

    /// The level named `name` ("error", "info", "debug").
    public init?(name: String) {
        switch name.lowercased() {
        case "error": self = .error
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    /// The level's name.
    public var name: String {
        switch self {
        case .error: return "error"
        case .info: return "info"
        case .debug: return "debug"
        }
    }

    /// Orders by verbosity.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// One line per event, written whole so that lines from different threads never interleave.
public final class ServerLog: @unchecked Sendable {
    /// Lines above this level are dropped.
    public let level: LogLevel
    private let write: @Sendable (String) -> Void
    private let lock = NSLock()

    /// A log writing to stderr, or to `write` (tests).
    public init(level: LogLevel = .info, write: (@Sendable (String) -> Void)? = nil) {
        self.level = level
        self.write = write ?? { line in
            let bytes = Array(line.utf8)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { break }
                }
            }
        }
    }

    /// Logs a failure.
    public func error(_ message: @autoclosure () -> String) { emit(.error, message) }
    /// Logs a lifecycle event.
    public func info(_ message: @autoclosure () -> String) { emit(.info, message) }
    /// Logs detail.
    public func debug(_ message: @autoclosure () -> String) { emit(.debug, message) }

    private func emit(_ lineLevel: LogLevel, _ message: () -> String) {
        guard lineLevel <= level else { return }
        let text = message().replacingOccurrences(of: "\n", with: " ")
        let line = "\(Self.timestamp()) lmd[\(getpid())] \(lineLevel.name): \(text)\n"
        lock.lock(); defer { lock.unlock() }
        write(line)
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}
