import CFFmpeg
import Foundation

/// FFmpeg's global log level, set once before the first FFmpeg call of the media layer.
///
/// FFmpeg writes its own diagnostics to stderr; kvvision reports failures as one typed error per
/// problem instead, so the level defaults to quiet. Set `KVVISION_FFMPEG_LOG` to `error`,
/// `warning`, `info` or `debug` to see FFmpeg's messages while investigating an input.
///
/// Thread-safety: `configure()` is idempotent and safe from any thread (a lazily initialised
/// static, which Swift runs exactly once).
enum FFmpegLog {
    private static let once: Void = {
        let level: Int32
        switch ProcessInfo.processInfo.environment["KVVISION_FFMPEG_LOG"]?.lowercased() {
        case "error": level = kvv_log_error()
        case "warning": level = kvv_log_warning()
        case "info": level = 32
        case "debug": level = 48
        default: level = kvv_log_quiet()
        }
        av_log_set_level(level)
    }()

    /// Applies the log level (once per process).
    static func configure() { _ = once }
}
