// libFuzzer entry point for LMServer's LineFramer, built by fuzz/run.sh with swiftc together with
// Sources/LMServer/Transport/LineFramer.swift (see fuzz/README.md). The input's first byte sets the line
// limit, the next two seed how the rest is cut into reads; the lines framed must be those of the stream.

/// The events a framer must produce for the whole stream (see FuzzLineFramerTests.expected).
func expectedEvents(_ s: [UInt8], limit: Int) -> (events: [LineFramer.Event], ended: Bool) {
    var events: [LineFramer.Event] = []
    var start = 0
    while true {
        let newline = s[start...].firstIndex(of: 0x0A)
        let end = newline ?? s.count
        if end - start > limit { return (events + [.tooLong], newline != nil) }
        guard let newline else { return (events, false) }
        events.append(.line(Array(s[start..<newline])))
        start = newline + 1
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineFramer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 3 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = Int(input[0] % 64)  // 0 becomes 1 inside the framer
    var seed = UInt32(input[1]) << 8 | UInt32(input[2]) | 1
    let stream = Array(input[3...])
    var framer = LineFramer(maxLineLength: limit)
    var got: [LineFramer.Event] = []
    var fed = 0
    while fed < stream.count {
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5  // xorshift32
        let n = min(stream.count - fed, Int(seed % 9))  // reads of 0 to 8 bytes
        let chunk = Array(stream[fed..<(fed + n)])
        let events = seed & 0x100 == 0 ? framer.append(chunk) : chunk.withUnsafeBufferPointer { framer.append($0) }
        if got.last == .tooLong && !events.isEmpty { fatalError("framed after an over-long line") }
        got += events
        fed += n
    }
    let want = expectedEvents(stream, limit: max(1, limit))
    if got != want.events { fatalError("framed \(got.count) events, wanted \(want.events.count): \(got) vs \(want.events)") }
    if framer.failed != (want.events.last == .tooLong) { fatalError("failed flag wrong") }
    if framer.failed && framer.overlongLineEnded != want.ended { fatalError("overlongLineEnded wrong") }
    return 0
}
