import Foundation

/// Writing to stdout (data) and stderr (logs, errors, progress).
///
/// stdout and stderr are written unbuffered with write(2), so every line is out when the call returns; a closed pipe (`| head`) is not
/// fatal because SIGPIPE is ignored at start-up. Thread-safety: main thread only.
enum Console {
    /// Ignore SIGPIPE so that a closed stdout is a write error, not a kill.
    static func setUp() { signal(SIGPIPE, SIG_IGN) }

    /// Writes `text` + newline to stdout and flushes.
    static func out(_ text: String) {
        write(fd: 1, text + "\n")
    }

    /// Writes one line to stderr.
    static func err(_ text: String) {
        write(fd: 2, text.replacingOccurrences(of: "\n", with: " ") + "\n")
    }

    /// True when stderr is a terminal (progress lines are shown only then).
    static let stderrIsTerminal: Bool = isatty(2) == 1

    /// Overwrites the progress line on stderr when it is a terminal; no-op otherwise.
    static func progress(_ text: String) {
        guard stderrIsTerminal else { return }
        write(fd: 2, "\r\u{1B}[K" + text)
    }

    /// A per-frame progress callback: every 10th frame, `label: N frames (of T), F frames/s, ETA
    /// M:SS` — overwriting one line on a terminal, one line each otherwise (`--progress always`).
    /// `total` (frames expected, when known) gives the ETA.
    static func frameProgress(_ label: String, total: Int?) -> (Int) -> Void {
        let start = Date()
        return { n in
            guard n % 10 == 0 else { return }
            let fps = Double(n) / max(Date().timeIntervalSince(start), 1e-6)
            var line = "\(label): \(n) frames"
            if let total, total > 0 { line += " of \(total)" }
            line += ", \(String(format: "%.1f", fps)) frames/s"
            if let total, total > n, fps > 0 {
                let eta = Int((Double(total - n) / fps).rounded())
                line += ", ETA \(eta / 60):\(String(format: "%02d", eta % 60))"
            }
            if stderrIsTerminal { progress(line) } else { err(line) }
        }
    }

    /// Ends the progress line, if one was shown.
    static func endProgress() {
        guard stderrIsTerminal else { return }
        write(fd: 2, "\r\u{1B}[K")
    }

    /// Writes all of `text` to a file descriptor (unbuffered); a closed pipe ends the write silently.
    static func write(fd: Int32, _ text: String) {
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        try? handle.write(contentsOf: Data(text.utf8))
    }

    /// Pretty, key-sorted JSON of an Encodable value on stdout.
    static func json<T: Encodable>(_ value: T, pretty: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        out(String(decoding: data, as: UTF8.self))
    }
}
