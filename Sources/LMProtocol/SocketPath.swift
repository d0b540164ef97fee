import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a socket path cannot be used.
public enum SocketPathError: Error, CustomStringConvertible, Equatable {
    /// The path does not fit in `sockaddr_un.sun_path`.
    case tooLong(path: String, limit: Int)
    /// The socket's folder could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// The socket's folder belongs to someone else or is open to others.
    case unsafeDirectory(path: String, reason: String)
    /// Connecting failed with `code` (an errno).
    case cannotConnect(path: String, code: Int32)

    /// True for a connect failure that means no daemon is there (no socket file, or nobody listening).
    public var meansNobodyListening: Bool {
        if case let .cannotConnect(_, code) = self { return code == ENOENT || code == ECONNREFUSED }
        return false
    }

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case let .tooLong(path, limit):
            return "socket path \(path) is \(path.utf8.count) bytes, longer than the limit of \(limit)"
        case let .cannotCreateDirectory(path, reason):
            return "cannot create the socket folder \(path): \(reason)"
        case let .unsafeDirectory(path, reason):
            return "the socket folder \(path) is not safe to use: \(reason)"
        case let .cannotConnect(path, code):
            return "cannot connect to \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// Where lmd listens and lmctl connects, so that both follow one rule.
public enum SocketPath {
    /// The longest path a Unix socket address holds (sun_path less its terminating NUL).
    public static let maxLength: Int = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The socket's file name inside its folder.
    public static let fileName = "lmd.sock"

    /// `$XDG_RUNTIME_DIR/lmd.sock` when that variable names a folder, else `/tmp/lmd-$UID/lmd.sock`.
    public static func defaultPath(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        uid: UInt32 = UInt32(getuid())
    ) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return (runtime as NSString).appendingPathComponent(fileName)
        }
        return "/tmp/lmd-\(uid)/\(fileName)"
    }

    /// The path to use: the one given, else the default.
    public static func resolve(_ given: String?) -> String {
        if let given, !given.isEmpty { return given }
        return defaultPath()
    }

    /// Throws when `path` is too long to bind or connect to.
    public static func validate(_ path: String) throws {
        if path.utf8.count > maxLength { throw SocketPathError.tooLong(path: path, limit: maxLength) }
    }

    /// Makes sure the socket's folder exists; a folder this creates is 0700 (owner only).
    /// An existing folder of the default `/tmp/lmd-$UID` form must belong to this user and not be open to others,
    /// since anyone who can write there could put their own socket in lmd's place.
    public static func prepareDirectory(for path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if directory.isEmpty { return }
        var st = stat()
        if stat(directory, &st) != 0 {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw SocketPathError.cannotCreateDirectory(path: directory, reason: String(cString: strerror(errno)))
            }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw SocketPathError.cannotCreateDirectory(path: directory, reason: "it exists and is not a folder")
        }
        let isDefaultTmp = directory == "/tmp/lmd-\(getuid())"
        if isDefaultTmp {
            if st.st_uid != getuid() {
                throw SocketPathError.unsafeDirectory(path: directory, reason: "it belongs to uid \(st.st_uid)")
            }
            if st.st_mode & 0o077 != 0 { _ = chmod(directory, 0o700) }
        }
    }
}

extension SocketPath {
    /// Calls `body` with `path` as a Unix socket address (for bind or connect); throws when it is too long.
    public static func withAddress<R>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R
    ) throws -> R {
        try validate(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try body(sa, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Connects a new blocking stream socket to `path` and returns its descriptor; throws
    /// `SocketPathError.cannotConnect` (see `meansNobodyListening`) or `.tooLong`.
    public static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw SocketPathError.cannotConnect(path: path, code: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let status = try withAddress(path) { sa, length -> Int32 in
            var result: Int32
            repeat { result = Glibc.connect(fd, sa, length) } while result != 0 && errno == EINTR
            return result == 0 ? 0 : errno
        }
        if status != 0 {
            close(fd)
            throw SocketPathError.cannotConnect(path: path, code: status)
        }
        return fd
    }

    /// True when something accepts connections on `path` right now.
    public static func isListening(_ path: String) -> Bool {
        guard let fd = try? connect(path) else { return false }
        close(fd)
        return true
    }
}
