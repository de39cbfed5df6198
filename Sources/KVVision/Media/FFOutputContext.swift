import CFFmpeg

/// Owner of one output `AVFormatContext` (a muxer writing to a file) and its `AVIOContext`.
///
/// Invariants: `pointer` is non-NULL for the object's whole life. `deinit` closes the file if it
/// is still open (`avio_closep`) and frees the context (`avformat_free_context`), exactly once.
/// A file closed without `av_write_trailer` is incomplete; `VideoWriter.finish()` writes it.
///
/// Thread-safety: not thread-safe; used by the one `VideoWriter` that created it.
final class FFOutputContext {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    let path: String

    /// A muxer for `format` (e.g. "mp4") writing to `path`; the file is not opened yet.
    init(format: String, path: String) throws(MediaError) {
        var p: UnsafeMutablePointer<AVFormatContext>?
        let ret = avformat_alloc_output_context2(&p, nil, format, path)
        guard ret >= 0, let p else {
            throw .writeFailed(path: path, frame: 0, message: "no \(format) muxer: \(MediaError.ffmpegMessage(ret))")
        }
        pointer = p
        self.path = path
    }

    /// Opens the output file for writing (unless the format needs no file).
    func openFile() throws(MediaError) {
        guard let oformat = pointer.pointee.oformat, (oformat.pointee.flags & kvv_avfmt_nofile()) == 0 else { return }
        let ret = avio_open(&pointer.pointee.pb, path, kvv_avio_flag_write())
        guard ret >= 0 else { throw .writeFailed(path: path, frame: 0, message: MediaError.ffmpegMessage(ret)) }
    }

    /// Closes the output file if it is open; returns FFmpeg's status.
    @discardableResult
    func closeFile() -> Int32 {
        guard pointer.pointee.pb != nil else { return 0 }
        return avio_closep(&pointer.pointee.pb)
    }

    deinit {
        closeFile()
        avformat_free_context(pointer)
    }
}
