import Foundation

/// A Hugging Face model repository with an optional revision: `gpt2`, `openai-community/gpt2-xl@v1.0`.
public struct ModelID: Hashable, Sendable, CustomStringConvertible {
    /// The repository, `ORG/NAME` or `NAME` (canonical models such as `distilgpt2` have no org).
    public let repo: String
    /// The branch, tag or commit asked for; nil means `main`.
    public let revision: String?

    /// The revision to use: the one asked for, else `main`.
    public var effectiveRevision: String { revision ?? "main" }

    /// The folder huggingface_hub uses for this repository under the cache root: `models--ORG--NAME`.
    public var cacheFolderName: String { "models--" + repo.replacingOccurrences(of: "/", with: "--") }

    /// `repo` or `repo@revision`, as a user writes it.
    public var description: String { revision.map { "\(repo)@\($0)" } ?? repo }

    /// Parses `REPO` or `REPO@REVISION`, checking the repository name as huggingface_hub does.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let repo = String(parts[0])
        if let problem = ModelID.problem(withRepo: repo) { throw ModelHubError.invalidSpec(text, reason: problem) }
        var revision: String?
        if parts.count == 2 {
            let rev = String(parts[1])
            if let problem = ModelID.problem(withRevision: rev) { throw ModelHubError.invalidSpec(text, reason: problem) }
            revision = rev
        }
        self.repo = repo
        self.revision = revision
    }

    /// A repository and revision that are already known to be well formed.
    init(repo: String, revision: String?) {
        self.repo = repo
        self.revision = revision
    }

    /// The repository a cache folder (`models--ORG--NAME`) holds, or nil for other folders.
    static func repo(fromCacheFolderName name: String) -> String? {
        guard name.hasPrefix("models--") else { return nil }
        let rest = name.dropFirst("models--".count)
        guard !rest.isEmpty else { return nil }
        return rest.replacingOccurrences(of: "--", with: "/")
    }

    /// Whether a revision is a full commit hash, used as a snapshot name directly.
    static func isCommitHash(_ revision: String) -> Bool {
        revision.utf8.count == 40 && revision.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    // huggingface_hub's rules: one optional `ORG/`, parts of [A-Za-z0-9_.-] starting and ending with a
    // letter, digit or `_`, no `--` or `..`, at most 96 characters.
    private static func problem(withRepo repo: String) -> String? {
        if repo.isEmpty { return "the model id is empty" }
        if repo.count > 96 { return "a model id is at most 96 characters" }
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 2 { return "a model id has at most one `/` (ORG/NAME)" }
        for part in parts {
            if part.isEmpty { return "a model id has no empty part" }
            let isWord: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard part.allSatisfy({ isWord($0) || $0 == "-" || $0 == "." }) else {
                return "a model id uses only letters, digits, `-`, `_` and `.`"
            }
            guard let first = part.first, let last = part.last, isWord(first), isWord(last) else {
                return "each part of a model id starts and ends with a letter, digit or `_`"
            }
        }
        if repo.contains("--") || repo.contains("..") { return "a model id contains no `--` or `..`" }
        if repo.hasSuffix(".git") { return "a model id does not end in `.git`" }
        return nil
    }

    // Revisions become paths under refs/ (`refs/pr/1` is a real one), so no escaping the folder.
    private static func problem(withRevision revision: String) -> String? {
        if revision.isEmpty { return "the revision after `@` is empty" }
        if revision.hasPrefix("/") || revision.hasSuffix("/") { return "a revision does not start or end with `/`" }
        if revision.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
            return "a revision has no `.`, `..` or empty path parts"
        }
        if revision.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "\\" || $0 == "\0" }) {
            return "a revision has no spaces or backslashes"
        }
        return nil
    }
}
