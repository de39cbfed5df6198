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

    /// Non-empty lines with their 1-based numbers (`\r\n` endings accepted).
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        var result: [(Int, Substring)] = []
        // "\r\n" is one Character in Swift, so it must be named as a separator of its own.
        let split = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (i, raw) in split.enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            result.append((i + 1, line))
        }
        return result
    }
}
