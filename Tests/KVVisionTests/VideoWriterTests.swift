import Foundation
import Testing
@testable import KVVision

/// VideoWriter: valid MP4 output, validation of sizes and frames, state machine.
@Suite struct VideoWriterTests {
    /// The ffprobe CLI, when installed (`tools/dev deps --bench`); some checks use it as an independent reader.
    static let ffprobe: String? = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func probeFrameCount(_ path: String) throws -> (frames: Int, codec: String, size: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ffprobe!)
        p.arguments = ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                       "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let fields = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")
        guard fields.count == 4 else { return (-1, "", "") }
        return (Int(fields[3]) ?? -1, String(fields[0]), "\(fields[1])x\(fields[2])")
    }

    @Test func writesMP4StartingWithFtypBox() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = try MediaPattern.writeClip(dir.appendingPathComponent("a.mp4").path, count: 10)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(data.count > 500)
        #expect(String(decoding: data[4..<8], as: UTF8.self) == "ftyp")
        // +faststart: the index (moov) comes before the media data (mdat).
        let text = String(decoding: data, as: Unicode.ASCII.self)
        let moov = try #require(text.range(of: "moov")), mdat = try #require(text.range(of: "mdat"))
        #expect(moov.lowerBound < mdat.lowerBound)
    }

    @Test(.enabled(if: VideoWriterTests.ffprobe != nil, "needs the ffprobe CLI"))
    func ffprobeCountsEveryWrittenFrameAsH264() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = try MediaPattern.writeClip(dir.appendingPathComponent("b.mp4").path, count: 37, width: 160, height: 120)
        let probe = try Self.probeFrameCount(path)
        #expect(probe.frames == 37)
        #expect(probe.codec == "h264")
        #expect(probe.size == "160x120")
    }

    @Test func fallsBackToMPEG4WhenH264IsMissing() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = dir.appendingPathComponent("c.mp4").path
        let writer = try VideoWriter(path: path, width: 64, height: 48, fps: 10, quality: 23, encoders: ["no-such-encoder", "mpeg4"])
        #expect(writer.encoderName == "mpeg4")
        for i in 0..<12 { try writer.write(rgb: MediaPattern.frame(index: i, width: 64, height: 48)) }
        try writer.finish()
        let source = try FrameSource(path)
        #expect(source.info.video?.codec == "mpeg4")
        var indices: [Int] = []
        while let f = try source.next() { indices.append(MediaPattern.index(in: f.pixels, width: 64, height: 48)) }
        #expect(indices == Array(0..<12))
    }

    @Test func noUsableEncoderIsTypedError() throws {
        let path = try TestFiles.scratchDirectory().appendingPathComponent("n.mp4").path
        #expect(throws: MediaError.encoderUnavailable(path: path, codec: "nope or nada")) {
            try VideoWriter(path: path, width: 64, height: 48, fps: 10, quality: 23, encoders: ["nope", "nada"])
        }
    }

    @Test func rejectsOddSizeForYUV420() throws {
        let path = try TestFiles.scratchDirectory().appendingPathComponent("odd.mp4").path
        #expect(throws: MediaError.invalidOptions(field: "size", reason: "65x48: yuv420p needs even width and height")) {
            try VideoWriter(path: path, width: 65, height: 48)
        }
        #expect(throws: MediaError.self) { try VideoWriter(path: path, width: 0, height: 48) }
        #expect(throws: MediaError.self) { try VideoWriter(path: path, width: 64, height: 48, fps: 0) }
        #expect(throws: MediaError.self) { try VideoWriter(path: path, width: 64, height: 48, quality: 52) }
    }

    @Test func rejectsFrameOfWrongByteCount() throws {
        let path = try TestFiles.scratchDirectory().appendingPathComponent("w.mp4").path
        let writer = try VideoWriter(path: path, width: 64, height: 48)
        #expect(throws: MediaError.frameSizeMismatch(path: path, frame: 0, expected: 64 * 48 * 3, actual: 10)) {
            try writer.write(rgb: [UInt8](repeating: 0, count: 10))
        }
        try writer.finish()
    }

    @Test func writeAfterFinishThrowsAndSecondFinishIsHarmless() throws {
        let path = try TestFiles.scratchDirectory().appendingPathComponent("f.mp4").path
        let writer = try VideoWriter(path: path, width: 64, height: 48)
        try writer.write(rgb: MediaPattern.frame(index: 1, width: 64, height: 48))
        try writer.finish()
        try writer.finish()
        #expect(writer.framesWritten == 1)
        #expect(throws: MediaError.writerFinished(path: path)) {
            try writer.write(rgb: MediaPattern.frame(index: 2, width: 64, height: 48))
        }
    }

    @Test func unwritableDirectoryIsTypedError() throws {
        let error = #expect(throws: MediaError.self) {
            try VideoWriter(path: "/nonexistent-dir-kvvision/x.mp4", width: 64, height: 48)
        }
        #expect(error?.description.contains("/nonexistent-dir-kvvision/x.mp4") == true)
    }
}
