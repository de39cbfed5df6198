import Foundation

/// Renders a whole ShapesWorld clip into a directory: `video.mp4` (H.264 via Media's
/// `VideoWriter`), `gt.txt`, `labels.json`, and optionally `frames.npy` at a model size.
///
/// Invariants: frames are rendered once, in order, into one reused buffer; `gt.txt` and
/// `frames.npy` are streamed to staged files (`StagedFile`) that take their names only when the
/// whole clip is done, so memory does not grow with the clip and a failed export never leaves a
/// truncated `gt.txt`, `frames.npy` or `labels.json`.
///
/// Thread-safety: stateless; each call owns its renderer.
public enum ClipExporter {
    /// What an export produced.
    public struct Summary: Sendable {
        public var frames: Int
        public var objects: Int
        public var files: [String]
    }

    /// Renders the clip for `config` and `seed` into `directory` (created if missing).
    ///
    /// - Parameters:
    ///   - modelSize: when set, also writes `frames.npy` (area-resampled frames at that size).
    ///   - video: whether to write `video.mp4`.
    ///   - quality: the H.264 CRF of `video.mp4` (0 best … 51 worst).
    ///   - progress: called after each frame with (frames done, total).
    public static func export(config: ScenarioConfig, seed: UInt64, to directory: String,
                              modelSize: (width: Int, height: Int)? = nil,
                              video: Bool = true, quality: Int = 23,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> Summary {
        let script = try SceneScript(config: config, seed: seed)
        let renderer = ShapesWorldRenderer(script: script)
        try makeDirectory(directory)
        var files: [String] = []
        var npy: NPYFrameWriter?
        var resampler: AreaResampler?
        var small: [UInt8] = []
        if let size = modelSize {
            guard size.width > 0, size.height > 0, size.width <= 4096, size.height <= 4096 else {
                throw SynthError.invalidParameter(name: "frames-npy", value: "\(size.width)x\(size.height)", expected: "a size within 1...4096 on each side")
            }
            npy = try NPYFrameWriter(path: directory + "/frames.npy", frames: script.frames, width: size.width, height: size.height)
            resampler = AreaResampler(sourceWidth: config.width, sourceHeight: config.height, width: size.width, height: size.height)
        }
        let writer = video ? try VideoWriter(path: directory + "/video.mp4", width: config.width, height: config.height,
                                             fps: config.fps, quality: quality) : nil
        var rgb = [UInt8](repeating: 0, count: renderer.frameBytes)
        let gt = try StagedFile(path: directory + "/gt.txt")
        for frame in 0..<script.frames {
            let truth = try renderer.render(frame: frame, into: &rgb)
            try gt.append(GroundTruthText.lines(truth))
            try writer?.write(rgb: rgb)
            if let npy, resampler != nil {
                resampler?.resample(rgb, into: &small)  // in place: no copy of the resampler's buffers
                try npy.append(small)
            }
            progress(frame + 1, script.frames)
        }
        if let writer {
            try writer.finish()
            files.append("video.mp4")
        }
        if let npy {
            try npy.finish()
            files.append("frames.npy")
        }
        try gt.commit()
        files.append("gt.txt")
        let labels: Data
        do { labels = try SynthLabels(script: script).encoded() } catch {
            throw SynthError.write(path: directory + "/labels.json", reason: "\(error)")
        }
        try write(labels, to: directory + "/labels.json")
        files.append("labels.json")
        return Summary(frames: script.frames, objects: script.objects.count, files: files)
    }

    /// Creates `path` (and parents) unless it is already a directory.
    static func makeDirectory(_ path: String) throws(SynthError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .write(path: path, reason: "exists and is not a directory") }
            guard FileManager.default.isWritableFile(atPath: path) else { throw .write(path: path, reason: "directory is not writable") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .write(path: path, reason: "cannot create directory (\(Self.reason(error)))")
        }
    }

    static func write(_ data: Data, to path: String) throws(SynthError) {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .write(path: path, reason: reason(error))
        }
    }

    /// A short, one-line reason for a Foundation file error.
    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return ns.localizedDescription.replacingOccurrences(of: "\n", with: " ")
    }
}
