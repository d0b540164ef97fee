import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The status line and headers of one HTTP answer (header names lowercased).
struct HTTPHead {
    let status: Int
    let headers: [String: String]

    init(_ response: HTTPURLResponse) {
        status = response.statusCode
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        self.headers = headers
    }

    subscript(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A failed exchange: the connection (worth retrying) or the caller's own handler (not).
enum TransferFailure: Error {
    case network(String)
    case handler(Error)
}

/// Synchronous HTTP on top of URLSession (the only TLS client Foundation offers on Linux): HEAD
/// without following redirects, and a streaming GET that hands each chunk to the caller.
final class HTTPClient {
    private let settings: HubSettings
    private let options: HubOptions

    init(settings: HubSettings, options: HubOptions) {
        self.settings = settings
        self.options = options
    }

    /// One HEAD request; a redirect is returned as is, not followed.
    func head(_ url: URL) throws -> HTTPHead {
        let transfer = Transfer(followRedirects: false)
        try run(request(url, method: "HEAD", range: nil), transfer)
        guard let head = transfer.head else { throw TransferFailure.network("no answer") }
        return head
    }

    /// One GET, following redirects. `onHead` sees the final answer's head before any body byte;
    /// `onData` gets the body in order. Either may throw to stop the transfer.
    func get(_ url: URL, fromByte offset: Int64, onHead: @escaping (HTTPHead) throws -> Void,
             onData: @escaping (Data) throws -> Void) throws -> HTTPHead {
        let transfer = Transfer(followRedirects: true)
        transfer.onHead = onHead
        transfer.onData = onData
        transfer.range = offset > 0 ? "bytes=\(offset)-" : nil
        transfer.authorizedHost = URL(string: settings.endpoint)?.host
        try run(request(url, method: "GET", range: transfer.range), transfer)
        guard let head = transfer.head else { throw TransferFailure.network("no answer") }
        return head
    }

    private func request(_ url: URL, method: String, range: String?) -> URLRequest {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: options.timeout)
        request.httpMethod = method
        // Byte counts and sha256 are of the raw file: no transparent compression.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue(options.userAgent, forHTTPHeaderField: "User-Agent")
        if let range { request.setValue(range, forHTTPHeaderField: "Range") }
        if let token = settings.token, url.host == URL(string: settings.endpoint)?.host {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    private func run(_ request: URLRequest, _ transfer: Transfer) throws {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = options.timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: request).resume()
        transfer.done.wait()
        if let failure = transfer.failure { throw failure }
    }
}

/// The delegate of one task: collects the answer, streams the body, signals completion. Its state is
/// touched only on the session's serial delegate queue, and read by the caller after `done`.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let followRedirects: Bool
    var range: String?
    var authorizedHost: String?
    var onHead: ((HTTPHead) throws -> Void)?
    var onData: ((Data) throws -> Void)?

    private(set) var head: HTTPHead?
    private(set) var failure: TransferFailure?
    let done = DispatchSemaphore(value: 0)

    init(followRedirects: Bool) { self.followRedirects = followRedirects }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        guard followRedirects else { return completionHandler(nil) }
        var next = request
        // The range must survive the hop to the CDN; the token must not.
        if let range { next.setValue(range, forHTTPHeaderField: "Range") }
        if next.url?.host != authorizedHost { next.setValue(nil, forHTTPHeaderField: "Authorization") }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            failure = .network("the answer is not HTTP")
            return completionHandler(.cancel)
        }
        let head = HTTPHead(http)
        self.head = head
        do {
            try onHead?(head)
            completionHandler(.allow)
        } catch let error as TransferFailure {
            failure = error
            completionHandler(.cancel)
        } catch {
            failure = .handler(error)
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        do {
            try onData?(data)
        } catch let error as TransferFailure {
            failure = error
            dataTask.cancel()
        } catch {
            failure = .handler(error)
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, failure == nil { failure = .network(error.localizedDescription) }
        // A HEAD whose redirect we declined may complete without `didReceive response`.
        if head == nil, let http = task.response as? HTTPURLResponse {
            head = HTTPHead(http)
            if failure != nil, !followRedirects, (300..<400).contains(http.statusCode) { failure = nil }
        }
        if head == nil, failure == nil { failure = .network("the server sent no answer") }
        done.signal()
    }
}
