import TestSupport
import XCTest
@testable import LMServer

/// The stdio transport over pipes, with `EchoService`.
final class StdioServerTests: XCTestCase {
    func testAnswersEverythingThenStopsAtEndOfInput() throws {
        let input = Pipe(), output = Pipe()
        let service = EchoService()
        let logs = TransportLogCollector()
        let server = StdioServer(
            service: service, log: logs.log, input: input.fileHandleForReading.fileDescriptor,
            output: output.fileHandleForWriting.fileDescriptor)
        let status = LockedBox<Int32?>(nil)
        let thread = Thread { status.value = try? ServerRunner.run(server, service: service, log: logs.log, handleSignals: false) }
        thread.start()
        input.fileHandleForWriting.write(Data("slow 200 late\necho one\necho two\n".utf8))
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        while status.value == nil && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(status.value, 0)
        try output.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(text, "one\ntwo\nlate\n", "work asked before end of input is answered")
        XCTAssertTrue(logs.text.contains("stdin closed"), logs.text)
    }

    func testOverlongLineIsAnsweredAndEndsTheService() throws {
        let input = Pipe(), output = Pipe()
        let service = EchoService()
        var options = TransportOptions()
        options.maxLineLength = 10
        let logs = TransportLogCollector()
        let server = StdioServer(
            service: service, options: options, log: logs.log, input: input.fileHandleForReading.fileDescriptor,
            output: output.fileHandleForWriting.fileDescriptor)
        let status = LockedBox<Int32?>(nil)
        Thread { status.value = try? ServerRunner.run(server, service: service, log: logs.log, handleSignals: false) }.start()
        input.fileHandleForWriting.write(Data("echo ok\n0123456789abcdef\necho never\n".utf8))
        let deadline = Date().addingTimeInterval(10)
        while status.value == nil && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(status.value, 0)
        try output.fileHandleForWriting.close()
        let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertEqual(lines.first, "ok")
        XCTAssertTrue(lines.last?.contains("-32600") ?? false)
    }
}
