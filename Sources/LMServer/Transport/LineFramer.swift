import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Splits a byte stream into lines on "\n" (the newline is not part of the line), refusing lines past a limit
/// so that one client cannot make the daemon buffer without bound.
public struct LineFramer {
    /// What feeding bytes produced.
    public enum Event: Equatable {
        /// One complete line, without its "\n".
        case line([UInt8])
        /// A line grew past `maxLineLength`; nothing more is framed after it.
        case tooLong
    }

    /// 16 MiB: room for a context of a few thousand tokens with any options, far from memory trouble.
    public static let defaultMaxLineLength = 16 << 20

    /// The longest line accepted, in bytes (without the "\n").
    public let maxLineLength: Int
    private var pending: [UInt8] = []
    /// Set once a line was too long: nothing more is framed.
    public private(set) var failed = false
    /// After a too-long line: whether its terminating "\n" has arrived (the peer has finished sending it).
    public private(set) var overlongLineEnded = false
    /// After a too-long line: bytes thrown away since.
    public private(set) var discardedByteCount = 0

    /// A framer with nothing buffered.
    public init(maxLineLength: Int = LineFramer.defaultMaxLineLength) {
        self.maxLineLength = max(1, maxLineLength)
    }

    /// Bytes of an unfinished line held so far.
    public var bufferedByteCount: Int { pending.count }

    /// Feeds `bytes`; returns the lines they complete, in order (ending with `.tooLong` if one overflowed).
    public mutating func append(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// Feeds `bytes` from a read buffer.
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) -> [Event] {
        guard let base = bytes.baseAddress else { return [] }
        if failed {
            if !overlongLineEnded {
                discardedByteCount += bytes.count
                overlongLineEnded = memchr(base, 0x0A, bytes.count) != nil
            }
            return []
        }
        var events: [Event] = []
        var start = 0
        let count = bytes.count
        while start < count {
            let rest = count - start
            guard let hit = memchr(base + start, 0x0A, rest) else {
                // No newline: keep the tail, unless it already breaks the limit.
                if pending.count + rest > maxLineLength {
                    fail(&events, lineEnded: false)
                } else {
                    pending.append(contentsOf: UnsafeBufferPointer(start: base + start, count: rest))
                }
                return events
            }
            let end = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) - base
            let piece = UnsafeBufferPointer(start: base + start, count: end - start)
            if pending.count + piece.count > maxLineLength {
                fail(&events, lineEnded: true)
                return events
            }
            if pending.isEmpty {
                events.append(.line(Array(piece)))
            } else {
                pending.append(contentsOf: piece)
                events.append(.line(pending))
                pending = []
            }
            start = end + 1
        }
        return events
    }

    private mutating func fail(_ events: inout [Event], lineEnded: Bool) {
        failed = true
        overlongLineEnded = lineEnded
        pending = []
        events.append(.tooLong)
    }
}
