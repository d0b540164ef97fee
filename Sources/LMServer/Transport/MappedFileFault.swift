import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What lmd does when a memory-mapped model file goes bad under it.
///
/// The weights are mapped, not copied. Deleting or renaming the file is harmless (the mapping keeps the old
/// inode alive), but truncating it in place makes the kernel unmap the pages past the new end, and the next
/// read of one raises SIGBUS, which would kill the daemon with no word said. The handler says what happened
/// in one line on stderr and exits with `exitStatus`, so that a supervisor or `lmctl` can restart it.
public enum MappedFileFault {
    /// The exit status after SIGBUS: 75 (EX_TEMPFAIL, "try again": a restart with a whole file fixes it).
    public static let exitStatus: Int32 = 75

    /// Installs the SIGBUS handler; `modelPath` is named in its message. Call again to change the path.
    public static func install(modelPath: String) {
        let text =
            "lmd: fatal: SIGBUS (bus error) reading memory-mapped model data: a model file in \(modelPath) was most "
            + "likely truncated or overwritten while lmd was running; exiting with status \(exitStatus) "
            + "(restart lmd once the file is whole)\n"
        let bytes = Array(text.utf8)
        // The handler may only read memory prepared beforehand: the message is copied to a buffer that is
        // never freed (a replaced one stays valid too, since a signal may be running on it).
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        buffer.initialize(from: bytes, count: bytes.count)
        faultMessageLength = 0
        faultMessage = buffer
        faultMessageLength = bytes.count

        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            // Async-signal-safe only: write(2) and _exit(2).
            if let message = faultMessage, faultMessageLength > 0 {
                _ = write(2, message, faultMessageLength)
            }
            _exit(MappedFileFault.exitStatusForHandler)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGBUS, &action, nil)
    }

    /// A plain constant the C handler can read without touching lazily initialized storage.
    fileprivate static var exitStatusForHandler: Int32 { 75 }
}

/// Read only by the SIGBUS handler; set before the handler is installed.
nonisolated(unsafe) private var faultMessage: UnsafeMutablePointer<UInt8>?
nonisolated(unsafe) private var faultMessageLength = 0
