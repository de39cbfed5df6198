import Foundation

/// Reading the text files evaluation consumes, with errors that name the path.
///
/// Thread-safety: stateless namespace.
enum EvalFile {
    /// The whole file as UTF-8 text.
    static func text(_ url: URL) throws(EvalError) -> String {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        guard !isDirectory.boolValue else { throw .unreadable(path: path, reason: "is a directory") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(path: path, reason: error.localizedDescription) }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path: path, reason: "not UTF-8 text") }
        return text
    }

    /// Non-empty lines with their 1-based numbers (`\r\n` endings accepted). Splits on the newline
    /// byte (UTF-8 never uses it inside a multi-byte character), which is much faster than splitting
    /// on Characters.
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        var result: [(Int, Substring)] = []
        for (i, raw) in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let bytes = raw.last == 0x0D ? raw.dropLast() : raw
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            result.append((i + 1, Substring(bytes)))
        }
        return result
    }
}
