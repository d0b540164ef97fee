import Foundation
import ModelHub
import XCTest

/// The two progress forms: a bar redrawn in place on a terminal, plain lines elsewhere.
final class HubProgressPrinterTests: XCTestCase {
    private let commit = "0b1d7c5e9f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c"

    /// Events for one 6.5 MB file in 100 steps of 65 kB at 1 MB/s, then the end.
    private func events() -> [HubEvent] {
        let size: Int64 = 6_500_000
        var events: [HubEvent] = [
            .started(model: "tiny/gpt2", commit: commit, files: [HubFile(name: "model.safetensors", size: size, resumeFrom: 0)],
                     totalBytes: size),
            .fileStarted(HubFile(name: "model.safetensors", size: size, resumeFrom: 0)),
        ]
        for step in 1...100 {
            let bytes = size * Int64(step) / 100
            events.append(.progress(HubProgress(file: "model.safetensors", fileBytes: bytes, fileSize: size, bytes: bytes,
                                                totalBytes: size, bytesPerSecond: 1_000_000,
                                                secondsRemaining: Double(size - bytes) / 1_000_000)))
            if step == 40 { events.append(.retrying(file: "model.safetensors", attempt: 1, reason: "connection reset")) }
        }
        events.append(.fileFinished(file: "model.safetensors", size: size))
        events.append(.finished(model: "tiny/gpt2", directory: URL(fileURLWithPath: "/c/snapshots/\(commit)"), bytes: size, seconds: 6.5))
        return events
    }

    /// Plain form: one line per tenth of the file, each a complete line with bytes, rate and time left.
    func testPlainLinesForLogs() {
        var output = ""
        var clock = 0.0
        let printer = HubProgressPrinter(interactive: false, write: { output += $0 }, now: { clock })
        for event in events() {
            clock += 0.065
            printer.handle(event)
        }
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertFalse(output.contains("\r"))
        XCTAssertEqual(lines.first, "Downloading tiny/gpt2 (commit 0b1d7c5): 1 file, 6.5 MB")
        XCTAssertEqual(lines[1], "model.safetensors: 6.5 MB")
        let progressLines = lines.filter { $0.contains(" of 6.5 MB") }
        XCTAssertEqual(progressLines.count, 11, output)  // 1% then every 10% up to 100%
        XCTAssertTrue(progressLines.contains("model.safetensors: 3.2 MB of 6.5 MB (50%), 1.0 MB/s, 0:04 left"), output)
        XCTAssertTrue(output.contains("model.safetensors: connection reset; retrying (attempt 1)\n"))
        XCTAssertTrue(output.contains("model.safetensors: done\n"))
        XCTAssertTrue(output.hasSuffix("Downloaded tiny/gpt2: 6.5 MB in 6.5 s, 1.0 MB/s into /c/snapshots/\(commit)\n"))
    }

    /// Terminal form: `\r` + clear-line redraws, at most ten a second, one newline when the file ends.
    func testTerminalBarRedrawsInPlace() {
        var output = ""
        var clock = 0.0
        let printer = HubProgressPrinter(interactive: true, write: { output += $0 }, now: { clock })
        for event in events() {
            clock += 0.0625
            printer.handle(event)
        }
        let redraws = output.components(separatedBy: "\r\u{1B}[K").count - 1
        XCTAssertGreaterThanOrEqual(redraws, 45)
        XCTAssertLessThanOrEqual(redraws, 55, "throttled to one redraw per 0.1 s of 0.0625 s events")
        XCTAssertTrue(output.contains("model.safetensors            100% [####################] 6.5 MB/6.5 MB  1.0 MB/s  0:00 left\n"),
                      output)
        XCTAssertTrue(output.contains("\nmodel.safetensors: connection reset; retrying (attempt 1)\n"), "a message first ends the bar's line")
        XCTAssertEqual(output.components(separatedBy: "\n").filter { $0.contains("[####################]") }.count, 1)
    }

    func testUnits() {
        let p = HubProgress(file: "f", fileBytes: 1_520_000_000, fileSize: 6_430_000_000, bytes: 0, totalBytes: 0,
                            bytesPerSecond: 25_300_000, secondsRemaining: 3_725)
        var output = ""
        let printer = HubProgressPrinter(interactive: false, write: { output += $0 }, now: { 0 })
        printer.handle(.progress(p))
        XCTAssertEqual(output, "f: 1.52 GB of 6.43 GB (23%), 25.3 MB/s, 1:02:05 left\n")
        output = ""
        printer.handle(.progress(HubProgress(file: "g", fileBytes: 999, fileSize: 2_345_678, bytes: 0, totalBytes: 0,
                                             bytesPerSecond: 0, secondsRemaining: nil)))
        XCTAssertEqual(output, "g: 999 B of 2.3 MB (0%), -- B/s, --:-- left\n")
        output = ""
        printer.handle(.progress(HubProgress(file: "small", fileBytes: 999, fileSize: 12_345, bytes: 0, totalBytes: 0,
                                             bytesPerSecond: 0, secondsRemaining: nil)))
        XCTAssertEqual(output, "", "no progress lines for files under a megabyte in the plain form")
    }
}
