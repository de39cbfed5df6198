import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An append-only output file of complete lines (JSON Lines), for one stream: every `write`
/// appends whole lines with `write(2)` on an `O_APPEND` descriptor, so a reader (or a crash, even
/// `kill -9`) never sees half a line written by a finished call; `reopen()` closes and opens the
/// path again (after a log rotator renamed it). A path that cannot be opened (a missing directory)
/// is retried at the next write, at most once a second, and reported as `.output` meanwhile; the
/// stream goes on.
///
/// Invariants: the descriptor, when open, refers to the file at `path` as of the last open; bytes
/// are written in the order given; a line is never split across two `write` calls' output except
/// by a failing disk (then the error is thrown and the rest is retried, never reordered).
///
/// Thread-safety: `write`, `reopen`, `close` are serialised by one lock (SIGHUP may reopen while
/// the analysis thread writes).
public final class LineFileSink: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var lastAttempt = -Double.infinity
    private var closed = false

    /// Opens (creating, appending) `path`; a failure is not thrown here but at the first write.
    public init(path: String) {
        self.path = path
        lock.lock()
        _ = try? openLocked()
        lock.unlock()
    }

    /// Appends `text`, which must end with a newline (complete lines only).
    public func write(_ text: String) throws(ServeError) {
        guard text.utf8.last == 0x0A else { throw .output(path: path, message: "refusing a partial line") }
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw .output(path: path, message: "closed") }
        if fd < 0 {
            let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            guard now - lastAttempt >= 1 else { throw .output(path: path, message: "cannot be opened (retrying)") }
            try openLocked()
        }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .output(path: path, message: "write: \(ServeError.errnoText(errno))")
            }
            offset += n
        }
        bytes.removeAll()
    }

    /// Closes and reopens the path (log rotation). Throws when it cannot be opened (retried later).
    public func reopen() throws(ServeError) {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        lastAttempt = -Double.infinity
        try openLocked()
    }

    /// Closes the file; later writes throw.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        closed = true
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    private func openLocked() throws(ServeError) {
        lastAttempt = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        let d = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard d >= 0 else { throw .output(path: path, message: "cannot open for appending: \(ServeError.errnoText(errno))") }
        fd = d
    }
}
