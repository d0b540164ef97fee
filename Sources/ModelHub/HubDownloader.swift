import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Fetches the files one model needs into the cache, as huggingface_hub's `hf_hub_download` would:
/// HEAD for the commit, etag and size; GET into `blobs/<etag>.incomplete` (resumed with a Range);
/// check size and sha256; rename to `blobs/<etag>`; link from `snapshots/<commit>/`; write `refs/`.
final class HubDownloader {
    /// What a HEAD said about one file at one commit.
    struct Remote {
        let name: String
        let commit: String
        let etag: String
        let size: Int64
        /// Where the bytes are (the CDN location for LFS files).
        let downloadURL: URL
    }

    private let id: ModelID
    private let settings: HubSettings
    private let options: HubOptions
    private let client: HTTPClient
    private let cache: RepoCache
    private let report: HubProgressHandler?
    private var meter = TransferMeter()
    /// Files moved into blobs/ by this run.
    private var filesFetched = 0

    init(id: ModelID, settings: HubSettings, options: HubOptions, progress: HubProgressHandler?) {
        self.id = id
        self.settings = settings
        self.options = options
        self.report = progress
        client = HTTPClient(settings: settings, options: options)
        cache = RepoCache(root: settings.cacheDirectory, repo: id.repo)
    }

    /// Asks the hub which commit the revision is, fetches what the cache lacks, and returns the snapshot.
    func run() throws -> ResolvedModel {
        let revision = id.effectiveRevision
        guard let config = try remote(ModelFiles.config, revision: revision, required: true) else {
            throw ModelHubError.fileNotFound(id: id.repo, revision: revision, file: ModelFiles.config)
        }
        // Every other file is asked for at that commit, so a branch moving mid-download cannot mix versions.
        let commit = config.commit
        var files = [config]
        if let weights = try remote(ModelFiles.weights, revision: commit, required: false) {
            files.append(weights)
        } else if let index = try remote(ModelFiles.weightIndex, revision: commit, required: false) {
            // The index names the shards, so it is fetched before the rest are planned.
            try fetch([index], announce: false)
            for shard in try ModelFiles.shardNames(inIndex: cache.blob(index.etag)) {
                if let remote = try remote(shard, revision: commit, required: true) { files.append(remote) }
            }
        } else {
            throw ModelHubError.fileNotFound(id: id.repo, revision: revision, file: "\(ModelFiles.weights) (or \(ModelFiles.weightIndex))")
        }
        if let vocab = try remote(ModelFiles.vocab, revision: commit, required: false),
           let merges = try remote(ModelFiles.merges, revision: commit, required: false) {
            files += [vocab, merges]
        } else if let tokenizer = try remote(ModelFiles.tokenizer, revision: commit, required: false) {
            files.append(tokenizer)
        } else {
            throw ModelHubError.fileNotFound(id: id.repo, revision: revision,
                                             file: "\(ModelFiles.vocab) + \(ModelFiles.merges) (or \(ModelFiles.tokenizer))")
        }
        for name in ModelFiles.optional {
            if let extra = try remote(name, revision: commit, required: false) { files.append(extra) }
        }
        try fetch(files, announce: true)
        try cache.writeRef(revision, commit: commit)
        let directory = cache.snapshot(commit)
        let missing = ModelFiles.missing(in: directory)
        if !missing.isEmpty {
            throw ModelHubError.fileSystem(path: directory.path, reason: "after downloading, \(missing.joined(separator: ", ")) is still missing")
        }
        report?(.finished(model: id.description, directory: directory, bytes: meter.transferred, seconds: meter.elapsed))
        return ResolvedModel(directory: directory, id: id, commit: commit, source: filesFetched > 0 ? .download : .cache)
    }

    // MARK: - Metadata

    /// The hub's URL for a file at a revision: `{endpoint}/{repo}/resolve/{revision}/{file}`.
    func resolveURL(_ file: String, revision: String) -> URL? {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        func quote(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }
        let path = file.split(separator: "/").map { quote(String($0)) }.joined(separator: "/")
        return URL(string: "\(settings.endpoint)/\(id.repo)/resolve/\(quote(revision))/\(path)")
    }

    /// HEAD for one file, following only relative redirects (renamed repositories), as huggingface_hub
    /// does; an absolute redirect (to the LFS CDN) is where the bytes are. Nil when the file is absent
    /// and not required.
    private func remote(_ file: String, revision: String, required: Bool) throws -> Remote? {
        guard var url = resolveURL(file, revision: revision) else {
            throw ModelHubError.invalidSpec(id.description, reason: "it does not make a valid URL with \(settings.endpoint)")
        }
        for _ in 0..<10 {
            let head = try withRetries(file: file, url: url) { try self.client.head(url) }
            let location = head["location"].flatMap { URL(string: $0, relativeTo: url)?.absoluteURL }
            if (300..<400).contains(head.status), let raw = head["location"], URL(string: raw)?.host == nil, let next = location {
                url = next
                continue
            }
            switch head.status {
            case 200..<400:
                return try describe(file, head: head, downloadURL: (300..<400).contains(head.status) ? location ?? url : url,
                                    requestedRevision: revision)
            case 401, 404:
                try throwNotFound(head, file: file, revision: revision)
                if required { throw ModelHubError.fileNotFound(id: id.repo, revision: id.effectiveRevision, file: file) }
                return nil
            default:
                throw ModelHubError.httpStatus(url: url.absoluteString, status: head.status)
            }
        }
        throw ModelHubError.badResponse(url: url.absoluteString, reason: "too many redirects")
    }

    /// Turns the hub's error codes into errors about the repository or revision; returns for a missing file.
    private func throwNotFound(_ head: HTTPHead, file: String, revision: String) throws {
        switch head["x-error-code"] {
        case "RepoNotFound"?: throw ModelHubError.repoNotFound(id: id.repo, endpoint: settings.endpoint)
        case "RevisionNotFound"?: throw ModelHubError.revisionNotFound(id: id.repo, revision: id.effectiveRevision)
        case "EntryNotFound"?: return
        default:
            // Without a code, 401 is what the hub says for a repository it will not admit exists.
            if head.status == 401 { throw ModelHubError.repoNotFound(id: id.repo, endpoint: settings.endpoint) }
        }
    }

    private func describe(_ file: String, head: HTTPHead, downloadURL: URL, requestedRevision: String) throws -> Remote {
        let source = downloadURL.absoluteString
        guard let commit = head["x-repo-commit"] ?? (ModelID.isCommitHash(requestedRevision) ? requestedRevision : nil),
              ModelID.isCommitHash(commit)
        else { throw ModelHubError.badResponse(url: source, reason: "no commit hash in X-Repo-Commit") }
        guard let rawEtag = head["x-linked-etag"] ?? head["etag"] else {
            throw ModelHubError.badResponse(url: source, reason: "no ETag")
        }
        let etag = HubDownloader.normalizeEtag(rawEtag)
        // The etag becomes a file name in blobs/.
        guard !etag.isEmpty, !etag.hasPrefix("."), etag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ModelHubError.badResponse(url: source, reason: "the ETag `\(rawEtag)` is not a plain token")
        }
        guard let sizeText = head["x-linked-size"] ?? head["content-length"], let size = Int64(sizeText), size >= 0 else {
            throw ModelHubError.badResponse(url: source, reason: "no file size (X-Linked-Size or Content-Length)")
        }
        return Remote(name: file, commit: commit, etag: etag, size: size, downloadURL: downloadURL)
    }

    /// `W/"abc"` → `abc`, as huggingface_hub normalizes etags.
    static func normalizeEtag(_ raw: String) -> String {
        var etag = raw.trimmingCharacters(in: .whitespaces)
        if etag.hasPrefix("W/") { etag.removeFirst(2) }
        return etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// Whether an etag is a sha256 (LFS files), so the bytes can be checked against it.
    static func isSHA256(_ etag: String) -> Bool {
        etag.utf8.count == 64 && etag.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    // MARK: - Transfer

    /// Fetches the files whose blobs are not yet in the cache and links each into the snapshot as it
    /// lands (as huggingface_hub does: an interrupted download leaves a partial snapshot, listed as such).
    private func fetch(_ files: [Remote], announce: Bool) throws {
        let needed = files.filter { !FileManager.default.fileExists(atPath: cache.blob($0.etag).path) }
        var planned: [String: HubFile] = [:]
        if !needed.isEmpty {
            try cache.createDirectory(cache.blobs)
            let plan = needed.map { HubFile(name: $0.name, size: $0.size, resumeFrom: partialSize(cache.incompleteBlob($0.etag))) }
            meter.plan(plan)
            for file in plan { planned[file.name] = file }
            if announce {
                report?(.started(model: id.description, commit: needed[0].commit, files: plan, totalBytes: meter.totalBytes))
            }
        }
        for remote in files {
            if let file = planned[remote.name] { try download(remote, planned: file) }
            try cache.link(file: remote.name, etag: remote.etag, commit: remote.commit)
        }
    }

    private func partialSize(_ url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// One blob: resumable, retried, verified, then renamed into place. Holds the blob's lock file.
    private func download(_ remote: Remote, planned: HubFile) throws {
        let blob = cache.blob(remote.etag)
        let lock = try FileLock(cache.lockFile(remote.etag))
        defer { lock.unlock() }
        // Another process may have finished it while we waited for the lock.
        if FileManager.default.fileExists(atPath: blob.path) { meter.skip(planned); return }
        let partial = cache.incompleteBlob(remote.etag)
        report?(.fileStarted(HubFile(name: remote.name, size: remote.size, resumeFrom: partialSize(partial))))
        let writer = try BlobWriter(url: partial, expectedSize: remote.size, name: remote.name,
                                    checksum: HubDownloader.isSHA256(remote.etag))
        defer { writer.close() }
        var attempt = 0
        while writer.size < remote.size || remote.size == 0 {
            do {
                try transfer(remote, into: writer)
                if writer.size >= remote.size { break }
                throw TransferFailure.network("the connection closed after \(writer.size) of \(remote.size) bytes")
            } catch let TransferFailure.network(reason) {
                guard attempt < options.maxRetries else {
                    throw ModelHubError.network(url: remote.downloadURL.absoluteString, reason: reason)
                }
                attempt += 1
                report?(.retrying(file: remote.name, attempt: attempt, reason: reason))
                let delay = options.retryDelay * pow(2, Double(attempt - 1))
                if delay > 0 { Thread.sleep(forTimeInterval: min(delay, 30)) }
            } catch let TransferFailure.handler(error) {
                throw error
            }
        }
        do {
            try writer.verify(etag: remote.etag)
        } catch {
            writer.discard()
            throw error
        }
        writer.close()
        guard rename(partial.path, blob.path) == 0 else {
            throw ModelHubError.fileSystem(path: blob.path, reason: String(cString: strerror(errno)))
        }
        filesFetched += 1
        report?(.fileFinished(file: remote.name, size: remote.size))
    }

    /// One GET from the partial file's end; connection failures surface as `TransferFailure.network`.
    private func transfer(_ remote: Remote, into writer: BlobWriter) throws {
        let start = writer.size
        let url = remote.downloadURL
        _ = try client.get(url, fromByte: start, onHead: { head in
            switch head.status {
            case 206:
                let range = head["content-range"] ?? ""
                guard range.hasPrefix("bytes \(start)-") else {
                    throw TransferFailure.network("the server resumed at `\(range)`, not at byte \(start)")
                }
                try self.checkTotal(Self.total(inContentRange: range), of: remote, writer: writer)
            case 200:
                // The server ignored the Range: start over.
                if start > 0 { try writer.restart() }
                try self.checkTotal(head["content-length"].flatMap { Int64($0) }, of: remote, writer: writer)
            case 416:
                // The server's file ends where ours does: it is shorter than announced.
                if let total = Self.total(inContentRange: head["content-range"] ?? ""), total == start {
                    try self.checkTotal(total, of: remote, writer: writer)
                }
                // Otherwise the partial file is not a prefix the server recognizes: start over.
                try writer.restart()
                throw TransferFailure.network("the server refused to resume at byte \(start)")
            case 404:
                throw ModelHubError.fileNotFound(id: self.id.repo, revision: self.id.effectiveRevision, file: remote.name)
            case 408, 429, 500..<600:
                throw TransferFailure.network("HTTP \(head.status)")
            default:
                throw ModelHubError.httpStatus(url: url.absoluteString, status: head.status)
            }
            self.meter.fileStarted(remote.name, at: writer.size)
        }, onData: { data in
            do {
                try writer.append(data)
            } catch {
                writer.discard()
                throw error
            }
            if let progress = self.meter.advance(file: remote.name, fileBytes: writer.size, fileSize: remote.size, by: data.count) {
                self.report?(.progress(progress))
            }
        })
    }

    /// A body whose full length differs from what the HEAD announced is refused before any byte is
    /// written, and what was on disk is dropped (it belongs to a different file).
    private func checkTotal(_ total: Int64?, of remote: Remote, writer: BlobWriter) throws {
        guard let total, total != remote.size else { return }
        writer.discard()
        throw ModelHubError.sizeMismatch(file: remote.name, expected: remote.size, actual: total)
    }

    /// TOTAL in `bytes START-END/TOTAL` or `bytes */TOTAL` (nil when unknown, `*`).
    static func total(inContentRange range: String) -> Int64? {
        guard let slash = range.lastIndex(of: "/") else { return nil }
        return Int64(range[range.index(after: slash)...].trimmingCharacters(in: .whitespaces))
    }

    /// Runs a metadata request, retrying connection failures with back-off, at most twice: a HEAD
    /// has no bytes to save, and a machine without network should hear so in seconds.
    private func withRetries<T>(file: String, url: URL, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let TransferFailure.network(reason) {
                guard attempt < min(options.maxRetries, 2) else { throw ModelHubError.network(url: url.absoluteString, reason: reason) }
                attempt += 1
                report?(.retrying(file: file, attempt: attempt, reason: reason))
                let delay = options.retryDelay * pow(2, Double(attempt - 1))
                if delay > 0 { Thread.sleep(forTimeInterval: min(delay, 30)) }
            } catch let TransferFailure.handler(error) {
                throw error
            }
        }
    }
}
