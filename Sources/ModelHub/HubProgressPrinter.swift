import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Draws download events: on a terminal, one progress bar redrawn in place per file; elsewhere (a
/// log, a pipe), plain lines at every tenth of a file (of a megabyte or more) or every five seconds.
///
///     model.safetensors   52% [##########          ] 3.4 MB/6.6 MB  12.3 MB/s  0:01 left
public final class HubProgressPrinter {
    private let interactive: Bool
    private let write: (String) -> Void
    private let now: () -> Double
    private let lock = NSLock()
    private var lastDraw = -Double.infinity
    private var lineOpen = false
    private var lastPlainStep: [String: Int64] = [:]

    /// `interactive` chooses the redrawn bar (default: whether stderr is a terminal); `write` receives
    /// the text (default: stderr); `now` is a clock in seconds (for tests).
    public init(interactive: Bool = isatty(STDERR_FILENO) != 0,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) },
                now: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.interactive = interactive
        self.write = write
        self.now = now
    }

    /// A handler to pass to `ModelHub.resolve` / `ModelHub.pull`.
    public var handler: HubProgressHandler { { [self] event in handle(event) } }

    /// Draws one event.
    public func handle(_ event: HubEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case let .started(model, commit, files, totalBytes):
            let resumed = files.filter { $0.resumeFrom > 0 }.count
            let count = files.count == 1 ? "1 file" : "\(files.count) files"
            var line = "Downloading \(model) (commit \(commit.prefix(7))): \(count), \(Self.bytes(totalBytes))"
            if resumed > 0 { line += "; resuming \(resumed) partial download\(resumed == 1 ? "" : "s")" }
            emitLine(line)
        case let .fileStarted(file):
            lastPlainStep[file.name] = -1
            if !interactive {
                emitLine(file.resumeFrom > 0
                    ? "\(file.name): resuming at \(Self.bytes(file.resumeFrom)) of \(Self.bytes(file.size))"
                    : "\(file.name): \(Self.bytes(file.size))")
            }
        case let .progress(p):
            if interactive {
                let t = now()
                guard t - lastDraw >= 0.1 || p.fileBytes == p.fileSize else { return }
                lastDraw = t
                write("\r\u{1B}[K" + Self.bar(p))
                lineOpen = true
            } else {
                // Files under a megabyte arrive in a blink: their start and end lines say enough.
                guard p.fileSize >= 1_000_000 else { return }
                let step = p.fileBytes * 10 / p.fileSize
                let t = now()
                guard step > lastPlainStep[p.file, default: -1] || t - lastDraw >= 5 else { return }
                lastPlainStep[p.file] = step
                lastDraw = t
                emitLine(Self.plain(p))
            }
        case let .retrying(file, attempt, reason):
            emitLine("\(file): \(reason); retrying (attempt \(attempt))")
        case let .fileFinished(file, size):
            if interactive {
                if lineOpen { write("\n") } else { write("\(file)  \(Self.bytes(size))  done\n") }
                lineOpen = false
            } else {
                emitLine("\(file): done")
            }
        case let .finished(model, directory, bytes, seconds):
            if bytes == 0 {
                emitLine("\(model) is complete in \(directory.path); nothing to download")
                return
            }
            let rate = seconds > 0 ? ", \(Self.bytes(Int64(Double(bytes) / seconds)))/s" : ""
            emitLine("Downloaded \(model): \(Self.bytes(bytes)) in \(String(format: "%.1f", seconds)) s\(rate) into \(directory.path)")
        }
    }

    private func emitLine(_ line: String) {
        if lineOpen { write("\n") }
        lineOpen = false
        write(line + "\n")
    }

    /// `name  52% [#####     ] 3.4 MB/6.6 MB  12.3 MB/s  0:01 left`.
    static func bar(_ p: HubProgress) -> String {
        let fraction = p.fileSize > 0 ? min(1, Double(p.fileBytes) / Double(p.fileSize)) : 1
        let width = 20
        let filled = Int(fraction * Double(width))
        var name = p.file
        if name.count > 28 { name = "…" + name.suffix(27) }
        name = name.padding(toLength: 28, withPad: " ", startingAt: 0)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        return "\(name) \(percent) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] "
            + "\(bytes(p.fileBytes))/\(bytes(p.fileSize))  \(rate(p.bytesPerSecond))  \(left(p.secondsRemaining))"
    }

    /// `name: 3.4 MB of 6.6 MB (52%), 12.3 MB/s, 0:01 left`.
    static func plain(_ p: HubProgress) -> String {
        let percent = p.fileSize > 0 ? Int(Double(p.fileBytes) / Double(p.fileSize) * 100) : 100
        return "\(p.file): \(bytes(p.fileBytes)) of \(bytes(p.fileSize)) (\(percent)%), \(rate(p.bytesPerSecond)), \(left(p.secondsRemaining))"
    }

    /// Decimal units, as download tools show them: `812 B`, `6.6 MB`, `1.52 GB`.
    static func bytes(_ n: Int64) -> String {
        let value = Double(n)
        switch value {
        case ..<1000: return "\(n) B"
        case ..<1e6: return String(format: "%.1f kB", value / 1e3)
        case ..<1e9: return String(format: "%.1f MB", value / 1e6)
        default: return String(format: "%.2f GB", value / 1e9)
        }
    }

    static func rate(_ bytesPerSecond: Double) -> String {
        bytesPerSecond > 0 ? bytes(Int64(bytesPerSecond)) + "/s" : "-- B/s"
    }

    /// `0:07 left`, `1:02:03 left`, or `--:-- left` when unknown.
    static func left(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:-- left" }
        let s = Int(seconds.rounded(.up))
        let clock = s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
        return clock + " left"
    }
}
