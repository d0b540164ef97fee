import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns what a user types (a folder or a Hugging Face id) into a model folder, sharing
/// huggingface_hub's cache: what Python tools downloaded is found, and what this downloads they find.
///
/// Every entry point takes the environment explicitly (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT,
/// HF_HUB_OFFLINE, HF_TOKEN), defaulting to the process's.
public enum ModelHub {
    /// A folder for `spec`: an existing directory is itself; otherwise `spec` is a hub id
    /// (`gpt2`, `openai-community/gpt2-xl@main`) looked up in the cache and, when it is not there
    /// complete and HF_HUB_OFFLINE is not set, downloaded into it.
    public static func resolve(_ spec: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               options: HubOptions = HubOptions(),
                               progress: HubProgressHandler? = nil) throws -> ResolvedModel {
        let settings = HubSettings(environment: environment)
        if let folder = try folder(spec, environment: environment) {
            return ResolvedModel(directory: folder, id: nil, commit: nil, source: .folder)
        }
        let id = try ModelID(parsing: spec)
        if let cached = cached(id, settings: settings) { return cached }
        if settings.offline { throw ModelHubError.offlineNotCached(id: id.description, cache: settings.cacheDirectory.path) }
        return try HubDownloader(id: id, settings: settings, options: options, progress: progress).run()
    }

    /// Downloads a hub id ahead of time (`lmctl pull`). Unlike `resolve`, it asks the hub which commit
    /// the revision is now, so a moved branch is fetched; blobs already in the cache are not fetched
    /// again. Offline, it succeeds only when the id is already complete in the cache.
    public static func pull(_ id: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            options: HubOptions = HubOptions(),
                            progress: HubProgressHandler? = nil) throws -> ResolvedModel {
        let settings = HubSettings(environment: environment)
        let id = try ModelID(parsing: id)
        if settings.offline {
            if let cached = cached(id, settings: settings) { return cached }
            throw ModelHubError.offlineNotCached(id: id.description, cache: settings.cacheDirectory.path)
        }
        return try HubDownloader(id: id, settings: settings, options: options, progress: progress).run()
    }

    /// The complete cached snapshot for an id, without touching the network; nil when absent or partial.
    public static func cachedSnapshot(_ id: ModelID,
                                      environment: [String: String] = ProcessInfo.processInfo.environment) -> ResolvedModel? {
        cached(id, settings: HubSettings(environment: environment))
    }

    /// Every model snapshot in the cache (`lmctl models`), sorted by id then commit; other repository
    /// kinds (datasets, spaces) are skipped. An absent cache folder is an empty list.
    public static func cachedModels(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [CachedModel] {
        let root = HubSettings(environment: environment).cacheDirectory
        let fm = FileManager.default
        guard fm.fileExists(atPath: root.path) else { return [] }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw ModelHubError.fileSystem(path: root.path, reason: error.localizedDescription)
        }
        var models: [CachedModel] = []
        for entry in entries.sorted() {
            guard let repo = ModelID.repo(fromCacheFolderName: entry) else { continue }
            let cache = RepoCache(root: root, repo: repo)
            let refs = cache.allRefs()
            let incomplete = (try? fm.contentsOfDirectory(atPath: cache.blobs.path))?
                .filter { $0.hasSuffix(".incomplete") }
                .reduce(Int64(0)) { $0 + fileSize(cache.blobs.appendingPathComponent($1)) } ?? 0
            let commits = ((try? fm.contentsOfDirectory(atPath: cache.snapshots.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            for commit in commits {
                let directory = cache.snapshot(commit)
                let missing = ModelFiles.missing(in: directory)
                models.append(CachedModel(id: repo, commit: commit, refs: refs.filter { $0.commit == commit }.map(\.name),
                                          directory: directory, sizeOnDisk: snapshotSize(directory), isComplete: missing.isEmpty,
                                          missing: missing, incompleteBytes: incomplete))
            }
        }
        return models
    }

    /// The cache root the environment selects (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        HubSettings(environment: environment).cacheDirectory
    }

    // MARK: - Helpers

    /// The folder a spec names, nil when it is to be read as a hub id, or an error when it has the form
    /// of a path (absolute, `./`, `~`, a trailing `/`, several `/`) but is not a directory.
    static func folder(_ spec: String, environment: [String: String]) throws -> URL? {
        var path = spec
        if path == "~" || path.hasPrefix("~/") {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            path = home + path.dropFirst(1)
        }
        var isDirectory: ObjCBool = false
        if !path.isEmpty, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL }
            // A single-file checkpoint (llama.cpp's GGUF) is a model as it is.
            if path.lowercased().hasSuffix(".gguf") { return URL(fileURLWithPath: path).standardizedFileURL }
            if !spec.contains("@") { throw ModelHubError.invalidSpec(spec, reason: "it is a file, not a folder (or a .gguf file)") }
        }
        let looksLikePath = path.hasPrefix("/") || path.hasPrefix("./") || path.hasPrefix("../") || path == "." || path == ".."
            || spec.hasPrefix("~") || path.hasSuffix("/") || path.split(separator: "/", omittingEmptySubsequences: false).count > 2
        if looksLikePath, !spec.contains("@") { throw ModelHubError.folderNotFound(path) }
        return nil
    }

    static func cached(_ id: ModelID, settings: HubSettings) -> ResolvedModel? {
        let cache = RepoCache(root: settings.cacheDirectory, repo: id.repo)
        guard let commit = cache.commit(for: id.effectiveRevision) else { return nil }
        let directory = cache.snapshot(commit)
        guard ModelFiles.missing(in: directory).isEmpty else { return nil }
        return ResolvedModel(directory: directory, id: id, commit: commit, source: .cache)
    }

    /// Bytes of the distinct files a snapshot's entries resolve to (blobs are shared between snapshots).
    static func snapshotSize(_ directory: URL) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return 0 }
        var seen = Set<String>()
        var total: Int64 = 0
        while let relative = walker.nextObject() as? String {
            let path = directory.appendingPathComponent(relative).path
            guard let real = realpath(path, nil) else { continue }
            defer { free(real) }
            var info = stat()
            guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if seen.insert(String(cString: real)).inserted { total += Int64(info.st_size) }
        }
        return total
    }

    static func fileSize(_ url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}
