import Foundation

/// An output file written in pieces under a temporary name (`PATH.partial`) and renamed to its
/// final path only by `commit()`, so a failed or interrupted export never leaves a truncated file
/// under the real name.
///
/// States: open (after `init`) → `append` any number of times → `commit()` (closed, renamed) or
/// released without commit (closed, the partial file removed in `deinit`).
///
/// Thread-safety: a reference type owning a file handle; one thread at a time.
public final class StagedFile {
    public let path: String
    private let partial: String
    private let handle: FileHandle
    private var committed = false

    /// Creates (or truncates) `PATH.partial`.
    public init(path: String) throws(SynthError) {
        self.path = path
        partial = path + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil),
              let handle = FileHandle(forWritingAtPath: partial) else {
            throw .write(path: path, reason: "cannot create \(partial)")
        }
        self.handle = handle
    }

    deinit {
        if !committed {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partial)
        }
    }

    /// Appends bytes.
    public func append(_ bytes: [UInt8]) throws(SynthError) {
        do { try handle.write(contentsOf: bytes) } catch { throw .write(path: path, reason: "\(error)") }
    }

    /// Appends a string's UTF-8 bytes.
    public func append(_ text: String) throws(SynthError) { try append(Array(text.utf8)) }

    /// Closes the file and moves it to its final path (replacing any file there).
    public func commit() throws(SynthError) {
        guard !committed else { return }
        committed = true
        do {
            try handle.close()
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch {
            throw .write(path: path, reason: "\(error)")
        }
    }
}
