import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One repository the test hub serves: files per commit, and branch/tag names pointing at commits.
public struct HubTestRepo {
    /// commit hash (40 hex) → file name → contents.
    public var commits: [String: [String: Data]]
    /// branch or tag → commit hash (`main` at least).
    public var refs: [String: String]

    /// A repository with the given commits and refs.
    public init(commits: [String: [String: Data]], refs: [String: String]) {
        self.commits = commits
        self.refs = refs
    }
}

/// A request the test hub received.
public struct HubTestRequest: Sendable {
    /// `GET` or `HEAD`.
    public let method: String
    /// The path as sent (still percent-encoded).
    public let path: String
    /// Header names lowercased.
    public let headers: [String: String]
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) that answers like huggingface.co's
/// `resolve` endpoint: ETag and X-Repo-Commit on every file; for LFS files (`*.safetensors`) a 302
/// to an absolute `/cdn/<sha256>` URL carrying X-Linked-Etag and X-Linked-Size; Range requests;
/// 401/404 with X-Error-Code. Switches make it cut a body once, corrupt bodies, or 404 a file.
/// One connection per request (`Connection: close`); every request is logged.
public final class HubTestServer: @unchecked Sendable {
    /// The base URL, e.g. `http://127.0.0.1:43121` (to pass as HF_ENDPOINT).
    public private(set) var endpoint: String = ""

    private let lock = NSLock()
    private var repos: [String: HubTestRepo]
    private var aliases: [String: String]
    private let sha256: (Data) -> String
    private let cdnHost: String
    /// sha256 → (file name, contents) of every LFS file, and "repo/commit/file" → its sha256.
    private var lfsBlobs: [String: (name: String, content: Data)] = [:]
    private var shaOf: [String: String] = [:]
    private var listener: Int32 = -1
    private var port: UInt16 = 0
    private var log: [HubTestRequest] = []
    private var cut: (file: String, afterBytes: Int, stallSeconds: Double)?
    private var sizeSkew: [String: Int] = [:]
    private var corrupted: Set<String> = []
    private var missing: Set<String> = []
    private var rangeIgnored = false
    private let acceptThread = DispatchGroup()

    /// Starts serving at once. `aliases` maps an old repository name to its new one (answered with a
    /// relative 307, as the hub does for renamed repositories); `sha256` hashes file contents (LFS etags).
    /// `cdnHost` names this server in LFS redirects: `localhost` makes the CDN look like another host.
    public init(repos: [String: HubTestRepo], aliases: [String: String] = [:], cdnHost: String = "127.0.0.1",
                sha256: @escaping (Data) -> String) throws {
        self.cdnHost = cdnHost
        self.repos = repos
        self.aliases = aliases
        self.sha256 = sha256
        for (repoName, repo) in repos {
            for (commit, files) in repo.commits {
                for (file, content) in files {
                    let sha = sha256(content)
                    if Self.isLFS(file) { lfsBlobs[sha] = (file, content) }
                    shaOf["\(repoName)/\(commit)/\(file)"] = sha
                }
            }
        }
        try start()
    }

    deinit { stop() }

    /// Every request so far, in arrival order.
    public var requests: [HubTestRequest] { lock.lock(); defer { lock.unlock() }; return log }

    /// Sends only the first `bytes` bytes of the next GET body of `file`, then drops the connection.
    public func cutOnce(file: String, afterBytes bytes: Int) { lock.lock(); cut = (file, bytes, 0); lock.unlock() }

    /// Like `cutOnce`, but first holds the connection silent for `seconds` (a stalled transfer).
    public func stallOnce(file: String, afterBytes bytes: Int, seconds: Double) {
        lock.lock(); cut = (file, bytes, seconds); lock.unlock()
    }

    /// Announces `file` (an LFS file) as `delta` bytes longer than it is in X-Linked-Size.
    public func misannounceSize(file: String, by delta: Int) { lock.lock(); sizeSkew[file] = delta; lock.unlock() }

    /// Serves `file` with one byte flipped (HEAD still announces the true etag and size).
    public func corrupt(file: String) { lock.lock(); corrupted.insert(file); lock.unlock() }

    /// Answers 404 (EntryNotFound) for `file`.
    public func remove(file: String) { lock.lock(); missing.insert(file); lock.unlock() }

    /// Answers 200 with the whole body even when a Range is asked for.
    public func ignoreRanges() { lock.lock(); rangeIgnored = true; lock.unlock() }

    /// Stops listening (connections in progress finish).
    public func stop() {
        lock.lock()
        let fd = listener
        listener = -1
        lock.unlock()
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
            acceptThread.wait()
        }
    }

    // MARK: - Socket plumbing

    private func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HubTestServerError("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw HubTestServerError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        endpoint = "http://127.0.0.1:\(port)"
        listener = fd
        acceptThread.enter()
        Thread.detachNewThread { [self] in
            defer { acceptThread.leave() }
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                Thread.detachNewThread { [self] in handle(client) }
            }
        }
    }

    private func handle(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        let terminator: [UInt8] = [13, 10, 13, 10]
        while !buffer.suffix(4).elementsEqual(terminator) || buffer.count < 4 {
            // Read byte-wise up to the blank line: requests here have no body.
            let n = recv(fd, &chunk, 1, 0)
            if n <= 0 { return }
            buffer.append(chunk[0])
            if buffer.count > 65536 { return }
        }
        let text = String(decoding: buffer, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = HubTestRequest(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers)
        lock.lock()
        log.append(request)
        lock.unlock()
        let response = respond(to: request)
        send(response, on: fd, method: request.method)
    }

    private func send(_ response: Response, on fd: Int32, method: String) {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        var headers = response.headers
        headers["Content-Length"] = headers["Content-Length"] ?? String(response.body.count)
        headers["Connection"] = "close"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if method != "HEAD" {
            let body = response.cutAfter.map { Data(response.body.prefix($0)) } ?? response.body
            bytes += body
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
        if response.cutAfter != nil {
            if response.stallSeconds > 0 { Thread.sleep(forTimeInterval: response.stallSeconds) }
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    // MARK: - The hub's behaviour

    private struct Response {
        var status: Int
        var headers: [String: String] = [:]
        var body = Data()
        var cutAfter: Int?
        var stallSeconds: Double = 0
    }

    private func respond(to request: HubTestRequest) -> Response {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if parts.first == "cdn", parts.count == 2 { return cdn(sha: parts[1], request: request) }
        guard let resolveAt = parts.firstIndex(of: "resolve"), resolveAt >= 1, resolveAt <= 2, parts.count > resolveAt + 2 else {
            return Response(status: 404, headers: ["X-Error-Code": "EntryNotFound"], body: Data("not found".utf8))
        }
        let repoName = parts[..<resolveAt].joined(separator: "/")
        let revision = parts[resolveAt + 1].removingPercentEncoding ?? parts[resolveAt + 1]
        let file = parts[(resolveAt + 2)...].joined(separator: "/").removingPercentEncoding ?? ""
        lock.lock()
        let skew = sizeSkew[file] ?? 0
        let alias = aliases[repoName]
        let repo = repos[repoName]
        let isMissing = missing.contains(file)
        lock.unlock()
        if let alias {
            let rest = parts[(resolveAt + 1)...].joined(separator: "/")
            return Response(status: 307, headers: ["Location": "/\(alias)/resolve/\(rest)"], body: Data("Temporary Redirect".utf8))
        }
        guard let repo else {
            return Response(status: 401, headers: ["X-Error-Code": "RepoNotFound"], body: Data("Repository not found".utf8))
        }
        guard let commit = repo.refs[revision] ?? (repo.commits[revision] != nil ? revision : nil), let files = repo.commits[commit] else {
            return Response(status: 404, headers: ["X-Error-Code": "RevisionNotFound"], body: Data("Invalid rev id".utf8))
        }
        guard let content = files[file], !isMissing else {
            return Response(status: 404, headers: ["X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit],
                            body: Data("Entry not found".utf8))
        }
        let sha = shaOf["\(repoName)/\(commit)/\(file)"] ?? sha256(content)
        if Self.isLFS(file) {
            return Response(status: 302, headers: [
                "Location": "http://\(cdnHost):\(port)/cdn/\(sha)",
                "X-Repo-Commit": commit,
                // The etag of the LFS pointer file (what git stores); clients must prefer X-Linked-Etag.
                "ETag": "\"\(String(sha.reversed().prefix(40)))\"",
                "X-Linked-Etag": "\"\(sha)\"",
                "X-Linked-Size": String(content.count + skew),
            ], body: Data("Found. Redirecting to /cdn/\(sha)".utf8))
        }
        var response = body(content, name: file, request: request)
        // Stands for git's blob sha1: a client only needs it to be 40 hex digits that follow the content.
        response.headers["ETag"] = "\"\(sha.prefix(40))\""
        response.headers["X-Repo-Commit"] = commit
        return response
    }

    private func cdn(sha: String, request: HubTestRequest) -> Response {
        lock.lock()
        let found = lfsBlobs[sha]
        lock.unlock()
        guard let (name, content) = found else { return Response(status: 404, body: Data("NoSuchKey".utf8)) }
        var response = body(content, name: name, request: request)
        response.headers["ETag"] = "\"\(sha)\""
        return response
    }

    /// The file's bytes (corrupted if asked), honouring a Range and a pending cut.
    private func body(_ content: Data, name: String, request: HubTestRequest) -> Response {
        lock.lock()
        var bytes = content
        if corrupted.contains(name), !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
        var cutAfter: Int?
        var stall = 0.0
        if request.method == "GET", let c = cut, c.file == name {
            cutAfter = c.afterBytes
            stall = c.stallSeconds
            cut = nil
        }
        let honourRange = !rangeIgnored
        lock.unlock()
        var response = Response(status: 200, headers: ["Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"])
        if honourRange, let range = request.headers["range"], range.hasPrefix("bytes=") {
            let spec = range.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
            let start = Int(spec.first ?? "") ?? 0
            let end = spec.count > 1 ? Int(spec[1]) ?? (bytes.count - 1) : bytes.count - 1
            guard start < bytes.count else {
                return Response(status: 416, headers: ["Content-Range": "bytes */\(bytes.count)"])
            }
            let last = min(end, bytes.count - 1)
            response.status = 206
            response.headers["Content-Range"] = "bytes \(start)-\(last)/\(bytes.count)"
            bytes = Data(bytes[start...last])
        }
        response.body = bytes
        response.cutAfter = cutAfter
        response.stallSeconds = stall
        return response
    }

    /// Files stored in git LFS on the hub: the weights.
    private static func isLFS(_ file: String) -> Bool { file.hasSuffix(".safetensors") }

    private static func reason(_ status: Int) -> String {
        [200: "OK", 206: "Partial Content", 302: "Found", 307: "Temporary Redirect", 401: "Unauthorized",
         404: "Not Found", 416: "Range Not Satisfiable"][status] ?? "Status"
    }
}

/// The test hub could not start.
public struct HubTestServerError: Error, CustomStringConvertible {
    /// What failed.
    public let description: String
    init(_ description: String) { self.description = description }
}
