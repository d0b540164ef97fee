import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Delivers SIGTERM and SIGINT to an ordinary thread, reliably.
///
/// libdispatch's signal sources were not reliable on Linux here: now and then a SIGTERM sent to a serving
/// lmd was never seen and the daemon did not stop. This is the classic self-pipe: a `sigaction` handler
/// (any thread may run it) writes the signal's number to a pipe, and a thread that keeps both signals
/// unblocked reads it and calls the current handler.
enum StopSignals {
    /// The signals watched.
    static let watched: [Int32] = [SIGTERM, SIGINT]

    /// Routes SIGTERM and SIGINT to `handler` (replacing any earlier one); installs the watcher on first use.
    /// Returns false if the pipe or the thread could not be made (the signals then keep their defaults).
    @discardableResult
    static func route(to handler: @escaping @Sendable (Int32) -> Void) -> Bool {
        watcher.lock.lock()
        watcher.handler = handler
        watcher.lock.unlock()
        return watcher.installed
    }

    /// Stops routing: signals that arrive are read and dropped until `route` is called again.
    static func unroute() {
        watcher.lock.lock()
        watcher.handler = nil
        watcher.lock.unlock()
    }

    private static let watcher = Watcher()

    private final class Watcher: @unchecked Sendable {
        let lock = NSLock()
        var handler: (@Sendable (Int32) -> Void)?
        private(set) var installed = false
        private var readEnd: Int32 = -1

        init() {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { return }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            readEnd = fds[0]
            // A full pipe must not block the handler: signals beyond 64 KiB unread are dropped, and one is enough.
            _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
            signalPipeWrite = fds[1]
            let thread = Thread { [self] in run() }
            thread.name = "lmd-signals"
            thread.start()
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                // Async-signal-safe only: write(2), errno kept for the interrupted code.
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWrite, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            for number in StopSignals.watched { sigaction(number, &action, nil) }
            installed = true
        }

        private func run() {
            // A process-directed signal goes to a thread that does not block it: make sure this one does not,
            // whatever mask the process inherited.
            var unblock = sigset_t()
            sigemptyset(&unblock)
            for number in StopSignals.watched { sigaddset(&unblock, number) }
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                lock.lock()
                let current = handler
                lock.unlock()
                current?(Int32(byte))
            }
        }
    }
}

/// The pipe the signal handler writes to; set once, before the handler is installed, and never closed.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1
