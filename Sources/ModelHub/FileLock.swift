import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on a file (flock), as huggingface_hub takes on `.locks/.../<etag>.lock`
/// so that two processes fetching the same blob do not write one `.incomplete` file together.
final class FileLock {
    private var descriptor: Int32

    /// Creates the lock file if needed and waits until the lock is ours.
    init(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ModelHubError.fileSystem(path: url.deletingLastPathComponent().path, reason: error.localizedDescription)
        }
        descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ModelHubError.fileSystem(path: url.path, reason: String(cString: strerror(errno)))
        }
        while flock(descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(descriptor)
            descriptor = -1
            throw ModelHubError.fileSystem(path: url.path, reason: reason)
        }
    }

    /// Releases the lock (the file stays, as huggingface_hub leaves it).
    func unlock() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
