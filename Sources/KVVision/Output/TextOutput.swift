import Foundation

/// Where writers put their bytes: stdout, a file, or memory (tests).
///
/// Every `write` hands its bytes to the kernel before it returns (no user-space buffer), so a
/// record written is never lost if the process dies later; writers call it once per frame.
///
/// Thread-safety: not thread-safe; one writer uses it.
public final class TextOutput {
    /// A name for errors (`-` for stdout).
    public let path: String
    private let handle: FileHandle?
    private let ownsHandle: Bool
    /// Everything written, for `.memory()` outputs.
    public private(set) var captured = ""

    private init(path: String, handle: FileHandle?, ownsHandle: Bool) {
        self.path = path; self.handle = handle; self.ownsHandle = ownsHandle
    }

    deinit { if ownsHandle { try? handle?.close() } }

    /// Standard output.
    public static func standardOutput() -> TextOutput {
        TextOutput(path: "-", handle: FileHandle.standardOutput, ownsHandle: false)
    }

    /// A file created (or truncated) at `path`; `-` means stdout.
    public static func file(_ path: String) throws(OutputError) -> TextOutput {
        if path == "-" { return standardOutput() }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw .cannotOpen(path: path, reason: exists && isDirectory.boolValue ? "is a directory" : "permission denied or no such directory")
        }
        return TextOutput(path: path, handle: handle, ownsHandle: true)
    }

    /// `/dev/null`: every write is a real write of the whole text to the kernel, which discards it
    /// (benchmarks: what `track` pays for output, without keeping it).
    public static func discarding() throws(OutputError) -> TextOutput {
        guard let handle = FileHandle(forWritingAtPath: "/dev/null") else { throw .cannotOpen(path: "/dev/null", reason: "cannot open for writing") }
        return TextOutput(path: "/dev/null", handle: handle, ownsHandle: true)
    }

    /// An in-memory output (read `captured`).
    public static func memory() -> TextOutput { TextOutput(path: "<memory>", handle: nil, ownsHandle: false) }

    /// Writes `text` completely.
    public func write(_ text: String) throws(OutputError) {
        guard handle != nil else { captured += text; return }
        try write(bytes: Array(text.utf8))
    }

    /// Writes UTF-8 `bytes` completely.
    public func write(bytes: [UInt8]) throws(OutputError) {
        guard let handle else { captured += String(decoding: bytes, as: UTF8.self); return }
        errno = 0
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            // Foundation's message is generic ("The operation could not be completed"); the
            // system error it came from says what happened.
            let code = errno
            let reason = switch code {
            case EPIPE: "the reader closed it (broken pipe)"
            case 0: (error as NSError).localizedDescription
            default: String(cString: strerror(code))
            }
            throw .writeFailed(path: path, reason: reason)
        }
    }
}
