import Foundation

/// Resident memory of the current process, read from `/proc/self/status` (Linux).
///
/// Thread-safety: stateless; safe from any thread.
public enum ProcessMemory {
    /// Current resident set size in bytes (`VmRSS`), or nil where /proc is unavailable.
    public static var residentBytes: Int? { field("VmRSS:") }
    /// Peak resident set size in bytes (`VmHWM`), or nil where /proc is unavailable.
    public static var peakResidentBytes: Int? { field("VmHWM:") }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}
