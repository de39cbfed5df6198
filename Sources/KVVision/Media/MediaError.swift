import CFFmpeg
import Foundation

/// Every failure of the media layer (decode, encode, probe), with its context.
///
/// Cases name the source (path or URL), the stream and frame where known, and FFmpeg's own
/// message. `description` is one line. End of input and "try again" are not errors: they are
/// control flow (`FrameSource.read()` returns `.end(…)`).
///
/// Thread-safety: immutable values, `Sendable`.
public enum MediaError: KVVisionError, Equatable {
    /// Options or arguments that cannot work (field name and why).
    case invalidOptions(field: String, reason: String)
    /// A local input path that does not exist.
    case fileNotFound(path: String)
    /// A local input path that is a directory.
    case isDirectory(path: String)
    /// A local input file with no bytes.
    case emptyFile(path: String)
    /// FFmpeg could not open or parse the input (its message attached).
    case openFailed(source: String, message: String)
    /// The input has no video stream (`streams` lists what it has, e.g. "audio aac").
    case noVideoStream(source: String, streams: String)
    /// No decoder for the video stream's codec.
    case decoderUnavailable(source: String, stream: Int, codec: String)
    /// A network source did not answer within the configured timeout (`stage`: open or read).
    case timedOut(source: String, stage: String, seconds: Double)
    /// Reading or decoding failed for a reason other than corrupt packets.
    case readFailed(source: String, stream: Int, frame: Int, message: String)
    /// The input ended before all the data its container announced (frames already delivered).
    case truncated(source: String, framesDecoded: Int, detail: String)
    /// Seeking to the start time failed.
    case seekFailed(source: String, seconds: Double, message: String)
    /// An FFmpeg allocation returned NULL.
    case allocationFailed(what: String)
    /// swscale could not convert between the two formats/sizes.
    case scalerFailed(from: String, to: String)
    /// No H.264 or MPEG-4 encoder is available in this FFmpeg build.
    case encoderUnavailable(path: String, codec: String)
    /// Creating or writing the output file failed.
    case writeFailed(path: String, frame: Int, message: String)
    /// A frame handed to the writer has the wrong number of bytes.
    case frameSizeMismatch(path: String, frame: Int, expected: Int, actual: Int)
    /// `write` or `finish` after `finish`.
    case writerFinished(path: String)
    /// The operation was cancelled through `FrameSource.cancel()`.
    case cancelled(source: String)

    public var description: String {
        switch self {
        case let .invalidOptions(field, reason):
            return "invalid media option \(field): \(reason)"
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .isDirectory(path):
            return "\(path): is a directory, not a video file"
        case let .emptyFile(path):
            return "\(path): file is empty"
        case let .openFailed(source, message):
            return "\(source): cannot open input: \(message)"
        case let .noVideoStream(source, streams):
            return "\(source): no video stream (streams: \(streams.isEmpty ? "none" : streams))"
        case let .decoderUnavailable(source, stream, codec):
            return "\(source): stream \(stream): no decoder for codec \(codec)"
        case let .timedOut(source, stage, seconds):
            return "\(source): no answer within \(Self.format(seconds)) s (\(stage) timeout)"
        case let .readFailed(source, stream, frame, message):
            return "\(source): stream \(stream): read failed after frame \(frame): \(message)"
        case let .truncated(source, framesDecoded, detail):
            return "\(source): input is truncated or damaged after \(framesDecoded) decoded frames: \(detail)"
        case let .seekFailed(source, seconds, message):
            return "\(source): cannot seek to \(Self.format(seconds)) s: \(message)"
        case let .allocationFailed(what):
            return "FFmpeg could not allocate \(what)"
        case let .scalerFailed(from, to):
            return "swscale cannot convert \(from) to \(to)"
        case let .encoderUnavailable(path, codec):
            return "\(path): no \(codec) encoder in this FFmpeg build"
        case let .writeFailed(path, frame, message):
            return "\(path): writing failed at frame \(frame): \(message)"
        case let .frameSizeMismatch(path, frame, expected, actual):
            return "\(path): frame \(frame) has \(actual) bytes, expected \(expected) (packed RGB24)"
        case let .writerFinished(path):
            return "\(path): writer already finished"
        case let .cancelled(source):
            return "\(source): cancelled"
        }
    }

    /// FFmpeg's text for an error code (`av_strerror`).
    static func ffmpegMessage(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let text = buffer.withUnsafeMutableBufferPointer { p -> String in
            _ = kvv_err2str(code, p.baseAddress, p.count)
            return String(cString: p.baseAddress!)
        }
        return text.isEmpty ? "FFmpeg error \(code)" : text
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.2f", seconds)
    }
}
