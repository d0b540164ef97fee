import Foundation

/// Appends a download to `blobs/<etag>.incomplete`, hashing as it goes, so that a resumed download
/// only re-reads the part an earlier process left, and a bad file is never renamed into place.
final class BlobWriter {
    private let url: URL
    private let expectedSize: Int64
    private let name: String
    private let checksum: Bool
    private var handle: FileHandle?
    private var hasher = SHA256()

    /// Bytes in the file (and, when checking, hashed).
    private(set) var size: Int64 = 0

    /// Opens (creating) the partial file and hashes what an earlier attempt left in it.
    init(url: URL, expectedSize: Int64, name: String, checksum: Bool) throws {
        self.url = url
        self.expectedSize = expectedSize
        self.name = name
        self.checksum = checksum
        do {
            if !FileManager.default.fileExists(atPath: url.path) {
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw ModelHubError.fileSystem(path: url.path, reason: "cannot create the file")
                }
            }
            let handle = try FileHandle(forUpdating: url)
            self.handle = handle
            size = Int64(try handle.seekToEnd())
            if size > expectedSize {
                try restart()
            } else if checksum, size > 0 {
                try hasher.update(fileAt: url, upTo: size)
            }
        } catch let error as ModelHubError {
            throw error
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Adds bytes at the end; more bytes than the hub announced is an error.
    func append(_ data: Data) throws {
        guard let handle else { throw ModelHubError.fileSystem(path: url.path, reason: "the file is closed") }
        guard size + Int64(data.count) <= expectedSize else {
            throw ModelHubError.sizeMismatch(file: name, expected: expectedSize, actual: size + Int64(data.count))
        }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: error.localizedDescription)
        }
        if checksum { hasher.update(data) }
        size += Int64(data.count)
    }

    /// Empties the file, for a server that will not resume.
    func restart() throws {
        guard let handle else { return }
        do {
            try handle.truncate(atOffset: 0)
            try handle.seek(toOffset: 0)
        } catch {
            throw ModelHubError.fileSystem(path: url.path, reason: error.localizedDescription)
        }
        size = 0
        hasher = SHA256()
    }

    /// Checks the length, and the sha256 when the etag is one.
    func verify(etag: String) throws {
        guard size == expectedSize else { throw ModelHubError.sizeMismatch(file: name, expected: expectedSize, actual: size) }
        if checksum {
            let actual = hasher.hexDigest()
            guard actual == etag else { throw ModelHubError.checksumMismatch(file: name, expected: etag, actual: actual) }
        }
    }

    /// Deletes the partial file: its bytes are known bad.
    func discard() {
        close()
        try? FileManager.default.removeItem(at: url)
    }

    /// Flushes and closes the file (idempotent).
    func close() {
        try? handle?.synchronize()
        try? handle?.close()
        handle = nil
    }
}

/// Counts bytes for progress events: the planned total, what is on disk, and a rate over the last
/// few seconds (so that the time left follows the connection as it speeds up or slows down).
struct TransferMeter {
    private(set) var totalBytes: Int64 = 0
    /// Bytes of the planned files on disk (finished files plus the current one).
    private var doneBefore: Int64 = 0
    private var fileSizes: [String: Int64] = [:]
    private var current: (name: String, bytes: Int64)?
    /// Bytes transferred over the network by this run.
    private(set) var transferred: Int64 = 0
    private let start = DispatchTime.now().uptimeNanoseconds
    private var samples: [(time: UInt64, bytes: Int64)] = []

    /// Seconds since the meter was made.
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// Adds files to the plan.
    mutating func plan(_ files: [HubFile]) {
        totalBytes = 0
        doneBefore = 0
        fileSizes = [:]
        for file in files {
            totalBytes += file.size
            fileSizes[file.name] = file.size
        }
    }

    /// A planned file turned out to be there already (another process fetched it).
    mutating func skip(_ file: HubFile) { doneBefore += file.size }

    /// A file's transfer (re)starts with `bytes` already on disk.
    mutating func fileStarted(_ name: String, at bytes: Int64) {
        if let current, current.name != name { doneBefore += fileSizes[current.name] ?? current.bytes }
        current = (name, bytes)
    }

    /// Records `count` new bytes; returns the progress to report.
    mutating func advance(file: String, fileBytes: Int64, fileSize: Int64, by count: Int) -> HubProgress? {
        current = (file, fileBytes)
        transferred += Int64(count)
        let now = DispatchTime.now().uptimeNanoseconds
        // One sample per 100 ms over the last five seconds keeps this cheap at any chunk size.
        if samples.isEmpty || now - samples[samples.count - 1].time >= 100_000_000 { samples.append((now, transferred)) }
        while samples.count > 2, now - samples[1].time > 5_000_000_000 { samples.removeFirst() }
        var rate = 0.0
        if let first = samples.first, now > first.time, transferred > first.bytes {
            rate = Double(transferred - first.bytes) / (Double(now - first.time) / 1e9)
        }
        let bytes = doneBefore + fileBytes
        let remaining = rate > 0 ? Double(max(0, totalBytes - bytes)) / rate : nil
        return HubProgress(file: file, fileBytes: fileBytes, fileSize: fileSize, bytes: bytes, totalBytes: totalBytes,
                           bytesPerSecond: rate, secondsRemaining: remaining)
    }
}
