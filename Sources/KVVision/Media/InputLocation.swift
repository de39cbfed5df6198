import Foundation

/// What kind of input a source string names: a local file, a pipe, or a network URL.
///
/// Rules: `scheme:` (letters, digits, `+ . -`, at least two characters so a Windows-style drive
/// letter is not a scheme) marks a URL; `file:` URLs and plain paths are local files; `pipe:` is a
/// pipe; `rtsp rtsps rtmp rtmps rtp udp srt tcp mms mmsh` are live network sources; `http(s)` are
/// network sources that are live only when their size and duration are unknown (decided after
/// opening).
///
/// Thread-safety: a value type, `Sendable`.
struct InputLocation: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case localFile(path: String), pipe, network(scheme: String) }

    let source: String
    let kind: Kind

    init(_ source: String) {
        self.source = source
        var scheme = Self.scheme(of: source)
        // "clip:1.mp4" is a local file when it exists and its prefix is no protocol kvvision knows.
        if let s = scheme, !Self.knownSchemes.contains(s), FileManager.default.fileExists(atPath: source) { scheme = nil }
        switch scheme {
        case nil: kind = .localFile(path: source)
        case "file"?:
            var path = String(source.dropFirst(5))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            kind = .localFile(path: path)
        case "pipe"?: kind = .pipe
        case let s?: kind = .network(scheme: s)
        }
    }

    /// Protocols FFmpeg is asked to open as URLs.
    static let knownSchemes: Set<String> = ["file", "pipe", "rtsp", "rtsps", "rtmp", "rtmps", "rtp", "udp", "srt", "tcp",
                                            "mms", "mmsh", "http", "https", "hls", "ftp", "sftp", "tls", "data", "async", "cache", "crypto", "concat", "subfile"]

    /// The string handed to FFmpeg: local paths that contain a colon get a `file:` prefix so
    /// FFmpeg does not read the part before it as a protocol.
    var ffmpegURL: String {
        if case let .localFile(path) = kind, source == path, path.contains(":") { return "file:" + path }
        return source
    }

    /// True for RTSP (its demuxer takes `timeout` in µs and rejects `rw_timeout`).
    var isRTSP: Bool { if case let .network(s) = kind { return s == "rtsp" || s == "rtsps" }; return false }

    /// True for network inputs.
    var isNetwork: Bool { if case .network = kind { return true }; return false }

    /// True where the scheme alone says the source is live.
    var isLiveScheme: Bool {
        guard case let .network(s) = kind else { return false }
        return ["rtsp", "rtsps", "rtmp", "rtmps", "rtp", "udp", "srt", "tcp", "mms", "mmsh"].contains(s)
    }

    /// Checks a local file before FFmpeg sees it, for precise errors (missing, directory, empty).
    func checkLocalFile() throws(MediaError) {
        guard case let .localFile(path) = kind else { return }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: source) }
        if isDirectory.boolValue { throw .isDirectory(path: source) }
        // Only a regular file can be "empty": a FIFO or a device reports size 0 and still streams.
        let attributes = (try? FileManager.default.attributesOfItem(atPath: path)) ?? [:]
        if attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? NSNumber, size.intValue == 0 {
            throw .emptyFile(path: source)
        }
    }

    /// True for a local file whose first box is an MP4/MOV `ftyp` (bytes 4..<8).
    var looksLikeMP4: Bool {
        guard case let .localFile(path) = kind, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 8)) ?? Data()
        return head.count == 8 && String(decoding: head.suffix(4), as: UTF8.self) == "ftyp"
    }

    private static func scheme(of s: String) -> String? {
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let head = s[s.startIndex..<colon]
        guard head.count >= 2, let first = head.first, first.isASCII, first.isLetter,
              head.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "." || $0 == "-") }) else { return nil }
        return head.lowercased()
    }
}
