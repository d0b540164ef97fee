import Foundation

/// How downloads behave (the environment says where and whether; these say how hard to try).
public struct HubOptions: Sendable {
    /// Further attempts at a file after its connection fails, each resuming where the last stopped
    /// (metadata requests retry at most twice).
    public var maxRetries: Int = 5
    /// Seconds to wait before the first retry; doubled for each further one.
    public var retryDelay: TimeInterval = 1
    /// Seconds without any byte arriving before a request counts as failed.
    public var timeout: TimeInterval = 30
    /// Sent as User-Agent.
    public var userAgent: String = "lmd-modelhub/1"

    /// The defaults: 5 retries, 1 s first back-off, 30 s timeout.
    public init() {}
}

/// A model folder ready to load, and where it came from.
public struct ResolvedModel: Sendable, Equatable {
    /// How the folder was found.
    public enum Source: String, Sendable, Equatable {
        /// The spec was a folder path.
        case folder
        /// The hub id was already complete in the cache; no file was fetched.
        case cache
        /// Some or all files were fetched from the hub just now.
        case download
    }

    /// The folder with config.json, weights and tokenizer (a cache snapshot for hub ids).
    public let directory: URL
    /// The hub id, or nil for a folder.
    public let id: ModelID?
    /// The snapshot's commit hash, or nil for a folder.
    public let commit: String?
    /// Folder, cache or download.
    public let source: Source
}

/// One snapshot of a model in the cache, as `lmctl models` lists it.
public struct CachedModel: Sendable, Equatable {
    /// The repository, `ORG/NAME` or `NAME`.
    public let id: String
    /// The snapshot's commit hash.
    public let commit: String
    /// The branches and tags (from `refs/`) that point at this commit, e.g. `["main"]`.
    public let refs: [String]
    /// The snapshot folder.
    public let directory: URL
    /// Bytes of the distinct blobs the snapshot's files point at.
    public let sizeOnDisk: Int64
    /// True when config.json, the weights and a tokenizer are all there.
    public let isComplete: Bool
    /// What a complete snapshot would still need (empty when complete).
    public let missing: [String]
    /// Bytes of unfinished downloads (`blobs/*.incomplete`) in this repository, shared by its snapshots.
    public let incompleteBytes: Int64
}

/// A file a download fetches.
public struct HubFile: Sendable, Equatable {
    /// The file's name in the repository.
    public let name: String
    /// Its full size in bytes.
    public let size: Int64
    /// Bytes already on disk from an earlier, interrupted download.
    public let resumeFrom: Int64

    /// A file of `size` bytes, `resumeFrom` of them already on disk.
    public init(name: String, size: Int64, resumeFrom: Int64) {
        self.name = name
        self.size = size
        self.resumeFrom = resumeFrom
    }
}

/// Byte counts and speed while downloading.
public struct HubProgress: Sendable, Equatable {
    /// The file being fetched.
    public let file: String
    /// Bytes of it on disk so far (including any resumed part).
    public let fileBytes: Int64
    /// Its full size.
    public let fileSize: Int64
    /// Bytes of the whole download on disk so far.
    public let bytes: Int64
    /// The whole download's size.
    public let totalBytes: Int64
    /// Recent transfer rate (over the last few seconds), bytes per second.
    public let bytesPerSecond: Double
    /// Estimated seconds until the whole download is done, when the rate is known.
    public let secondsRemaining: Double?

    /// A progress report (made by the downloader; public so that displays can be tested).
    public init(file: String, fileBytes: Int64, fileSize: Int64, bytes: Int64, totalBytes: Int64,
                bytesPerSecond: Double, secondsRemaining: Double?) {
        self.file = file
        self.fileBytes = fileBytes
        self.fileSize = fileSize
        self.bytes = bytes
        self.totalBytes = totalBytes
        self.bytesPerSecond = bytesPerSecond
        self.secondsRemaining = secondsRemaining
    }
}

/// What a download is doing, for whoever draws the progress (see `HubProgressPrinter`).
public enum HubEvent: Sendable, Equatable {
    /// The files to fetch are known (already-cached ones left out).
    case started(model: String, commit: String, files: [HubFile], totalBytes: Int64)
    /// One file's transfer begins (`resumeFrom` > 0 when continuing an earlier partial download).
    case fileStarted(HubFile)
    /// Bytes arrived.
    case progress(HubProgress)
    /// A connection failed; the next attempt continues from the bytes already on disk.
    case retrying(file: String, attempt: Int, reason: String)
    /// A file arrived, checked (size, and sha256 for LFS files) and moved into place.
    case fileFinished(file: String, size: Int64)
    /// Everything is in place in `directory`; `bytes` were transferred in `seconds`.
    case finished(model: String, directory: URL, bytes: Int64, seconds: Double)
}

/// Receives download events; called on a background thread, one event at a time.
public typealias HubProgressHandler = (HubEvent) -> Void
