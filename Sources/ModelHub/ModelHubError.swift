import Foundation

/// Why a model could not be found, fetched or trusted; each case reads as one sentence.
public enum ModelHubError: Error, Equatable, CustomStringConvertible {
    /// The text is neither an existing folder nor a well-formed hub id.
    case invalidSpec(String, reason: String)
    /// The text names a folder (it has a path form) that does not exist.
    case folderNotFound(String)
    /// Not (completely) cached, and HF_HUB_OFFLINE forbids downloading.
    case offlineNotCached(id: String, cache: String)
    /// The hub has no such repository (or it is private/gated and no token was given).
    case repoNotFound(id: String, endpoint: String)
    /// The repository has no such branch, tag or commit.
    case revisionNotFound(id: String, revision: String)
    /// A file the model needs is not in the repository at that revision.
    case fileNotFound(id: String, revision: String, file: String)
    /// The connection failed (after retries, where retrying made sense).
    case network(url: String, reason: String)
    /// The server answered with a status this client cannot use.
    case httpStatus(url: String, status: Int)
    /// The server's answer lacked something the cache layout needs (a commit hash, an etag).
    case badResponse(url: String, reason: String)
    /// The downloaded bytes do not hash to the file's sha256 etag.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The downloaded file is not as long as the server said.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// `model.safetensors.index.json` could not be read.
    case invalidIndex(file: String, reason: String)
    /// A cache file or folder could not be written or read.
    case fileSystem(path: String, reason: String)

    /// A sentence saying what went wrong and, where there is one, what to do.
    public var description: String {
        switch self {
        case let .invalidSpec(spec, reason):
            return "`\(spec)` is neither a model folder nor a Hugging Face model id: \(reason)"
        case let .folderNotFound(path):
            return "the model folder \(path) does not exist"
        case let .offlineNotCached(id, cache):
            return "`\(id)` is not in the Hugging Face cache at \(cache) and HF_HUB_OFFLINE is set; "
                + "run `lmctl pull \(id)` while online or pass a folder"
        case let .repoNotFound(id, endpoint):
            return "the model `\(id)` was not found on \(endpoint) (check the spelling; "
                + "a private or gated model needs HF_TOKEN)"
        case let .revisionNotFound(id, revision):
            return "the model `\(id)` has no revision `\(revision)` (no such branch, tag or commit)"
        case let .fileNotFound(id, revision, file):
            return "the model `\(id)` at revision `\(revision)` has no file \(file)"
        case let .network(url, reason):
            return "could not download \(url): \(reason)"
        case let .httpStatus(url, status):
            return "the server answered HTTP \(status) for \(url)"
        case let .badResponse(url, reason):
            return "the server's answer for \(url) is unusable: \(reason)"
        case let .checksumMismatch(file, expected, actual):
            return "\(file) is corrupt: its sha256 is \(actual) but the hub says \(expected); the partial file was deleted, try again"
        case let .sizeMismatch(file, expected, actual):
            return "\(file) is \(actual) bytes but the hub says \(expected); the partial file was deleted, try again"
        case let .invalidIndex(file, reason):
            return "the weight index \(file) is unreadable: \(reason)"
        case let .fileSystem(path, reason):
            return "cannot use \(path): \(reason)"
        }
    }
}
