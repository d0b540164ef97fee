import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a Unix socket, as the kernel recorded it when the peer connected (SO_PEERCRED).
/// The peer cannot forge this, so it holds even if someone loosens the socket file's mode.
public struct PeerCredentials: Equatable, Sendable {
    /// The peer's process id (at connect time).
    public var pid: Int32
    /// The peer's effective user id.
    public var uid: UInt32
    /// The peer's effective group id.
    public var gid: UInt32

    /// A record of the given ids.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// The credentials of the peer of the connected socket `fd`; nil when the kernel cannot say.
    public static func of(socket fd: Int32) -> PeerCredentials? {
        // Glibc's `struct ucred` is hidden behind _GNU_SOURCE in Swift's module map; this has its layout
        // (pid_t, uid_t, gid_t), and the size check below refuses anything else.
        var raw = RawUcred()
        var length = socklen_t(MemoryLayout<RawUcred>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0,
            Int(length) == MemoryLayout<RawUcred>.size
        else { return nil }
        return PeerCredentials(pid: raw.pid, uid: raw.uid, gid: raw.gid)
    }
}

/// `struct ucred` from <sys/socket.h>.
private struct RawUcred {
    var pid: Int32 = 0
    var uid: UInt32 = UInt32.max
    var gid: UInt32 = UInt32.max
}
