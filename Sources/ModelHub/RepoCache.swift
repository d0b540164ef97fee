import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One repository's folder in the huggingface_hub cache, laid out exactly as huggingface_hub does:
///
///     <root>/models--ORG--NAME/
///         blobs/<etag>                      file contents, named by etag (sha256 for LFS files)
///         blobs/<etag>.incomplete           a download in progress (resumed with an HTTP Range)
///         refs/<revision>                   the commit hash a branch or tag pointed to (no newline)
///         snapshots/<commit>/<file>         relative symlinks to ../../blobs/<etag>
///     <root>/.locks/models--ORG--NAME/<etag>.lock
struct RepoCache {
    /// The cache root (`HubSettings.cacheDirectory`).
    let root: URL
    /// `ORG/NAME` or `NAME`.
    let repo: String

    /// `<root>/models--ORG--NAME`.
    var folder: URL { root.appendingPathComponent(ModelID(repo: repo, revision: nil).cacheFolderName, isDirectory: true) }
    var blobs: URL { folder.appendingPathComponent("blobs", isDirectory: true) }
    var snapshots: URL { folder.appendingPathComponent("snapshots", isDirectory: true) }
    var refs: URL { folder.appendingPathComponent("refs", isDirectory: true) }

    func blob(_ etag: String) -> URL { blobs.appendingPathComponent(etag) }
    func incompleteBlob(_ etag: String) -> URL { blobs.appendingPathComponent(etag + ".incomplete") }
    func snapshot(_ commit: String) -> URL { snapshots.appendingPathComponent(commit, isDirectory: true) }
    func lockFile(_ etag: String) -> URL {
        root.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(folder.lastPathComponent, isDirectory: true)
            .appendingPathComponent(etag + ".lock")
    }

    /// The commit a revision names: itself when it is a commit hash, else what `refs/<revision>` holds.
    func commit(for revision: String) -> String? {
        if ModelID.isCommitHash(revision) { return revision }
        guard let text = try? String(contentsOf: refs.appendingPathComponent(revision), encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// Records that `revision` points at `commit` (huggingface_hub skips this when they are equal).
    func writeRef(_ revision: String, commit: String) throws {
        guard revision != commit else { return }
        let file = refs.appendingPathComponent(revision)
        try createDirectory(file.deletingLastPathComponent())
        if self.commit(for: revision) == commit { return }
        do {
            try Data(commit.utf8).write(to: file, options: .atomic)
        } catch {
            throw ModelHubError.fileSystem(path: file.path, reason: error.localizedDescription)
        }
    }

    /// Every ref and the commit it holds (`refs/pr/1` is named `refs/pr/1`, as on the hub).
    func allRefs() -> [(name: String, commit: String)] {
        guard let walker = FileManager.default.enumerator(at: refs, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var result: [(String, String)] = []
        let prefix = refs.standardizedFileURL.path + "/"
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(prefix) else { continue }
            let name = String(path.dropFirst(prefix.count))
            if let commit = commit(for: name) { result.append((name, commit)) }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink, replacing any old link.
    func link(file: String, etag: String, commit: String) throws {
        let target = snapshot(commit).appendingPathComponent(file)
        try createDirectory(target.deletingLastPathComponent())
        let depth = file.split(separator: "/").count
        let relative = String(repeating: "../", count: depth + 1) + "blobs/" + etag
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: target.path)) == relative { return }
        // lstat, not fileExists: a dangling link must be replaced too.
        var info = stat()
        if lstat(target.path, &info) == 0 { try? FileManager.default.removeItem(at: target) }
        do {
            try FileManager.default.createSymbolicLink(atPath: target.path, withDestinationPath: relative)
        } catch {
            throw ModelHubError.fileSystem(path: target.path, reason: error.localizedDescription)
        }
    }

    /// Creates a folder and its parents.
    func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// Which files make a usable GPT-2-style model folder.
enum ModelFiles {
    static let config = "config.json"
    static let weights = "model.safetensors"
    static let weightIndex = "model.safetensors.index.json"
    static let vocab = "vocab.json"
    static let merges = "merges.txt"
    static let tokenizer = "tokenizer.json"
    /// Fetched when present, ignored when the repository lacks them.
    static let optional = ["tokenizer_config.json", "generation_config.json"]

    /// What is missing from a folder for it to be loadable (empty when complete). Dangling symlinks
    /// count as missing, because `fileExists` follows links.
    static func missing(in folder: URL) -> [String] {
        let fm = FileManager.default
        func has(_ name: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        var missing: [String] = []
        if !has(config) { missing.append(config) }
        if !has(weights) {
            if has(weightIndex) {
                if let shards = try? shardNames(inIndex: folder.appendingPathComponent(weightIndex)) {
                    missing.append(contentsOf: shards.filter { !has($0) })
                } else {
                    missing.append(weightIndex)
                }
            } else {
                missing.append(weights)
            }
        }
        if !(has(vocab) && has(merges)) && !has(tokenizer) { missing.append("\(vocab) + \(merges) or \(tokenizer)") }
        return missing
    }

    /// The shard files a `model.safetensors.index.json` names in its `weight_map`, sorted, each once.
    static func shardNames(inIndex url: URL) throws -> [String] {
        let name = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelHubError.invalidIndex(file: name, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: Any]
        else { throw ModelHubError.invalidIndex(file: name, reason: "it is not a JSON object with a `weight_map` object") }
        var shards = Set<String>()
        for (key, value) in map {
            guard let shard = value as? String else {
                throw ModelHubError.invalidIndex(file: name, reason: "the entry for \(key) is not a file name")
            }
            // A shard name becomes a path in the snapshot: keep it inside.
            let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
            guard !shard.isEmpty, !shard.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == ".." || $0 == "." }) else {
                throw ModelHubError.invalidIndex(file: name, reason: "the shard name `\(shard)` is not a plain relative path")
            }
            shards.insert(shard)
        }
        if shards.isEmpty { throw ModelHubError.invalidIndex(file: name, reason: "its `weight_map` is empty") }
        return shards.sorted()
    }
}
