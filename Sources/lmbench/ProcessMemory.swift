import Foundation

/// Resident memory of a process, from Linux's /proc/PID/status (kB fields, reported here in bytes).
enum ProcessMemory {
    /// Peak resident set size (VmHWM) of `pid` ("self" for this process), or nil where unreadable.
    static func peakRSS(pid: String = "self") -> Int? { field("VmHWM", pid: pid) }

    /// Current resident set size (VmRSS) of `pid`, or nil where unreadable.
    static func currentRSS(pid: String = "self") -> Int? { field("VmRSS", pid: pid) }

    /// Restarts this process's peak-RSS count from its current RSS (Linux: "5" into clear_refs), so
    /// that memory spent before (writing the model folder) is not counted; false where not allowed.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func field(_ name: String, pid: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let digits = line.dropFirst(name.count + 1).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}
