import Foundation
import Testing
import KVVision

/// FrameSource on clips written by VideoWriter whose pixels encode the frame index.
@Suite struct FrameSourceTests {
    /// A 128×96 clip of `count` pattern frames at 25 fps (keyframes every 2 s).
    static func clip(_ count: Int, _ label: String = #function) throws -> String {
        let dir = try TestFiles.scratchDirectory(label)
        return try MediaPattern.writeClip(dir.appendingPathComponent("clip.mp4").path, count: count)
    }

    static func readAll(_ source: FrameSource) throws -> [VideoFrame] {
        var frames: [VideoFrame] = []
        while let f = try source.next() { frames.append(f) }
        return frames
    }

    @Test func roundTripDeliversEveryFrameInOrderWithMonotonicPts() throws {
        let path = try Self.clip(30)
        let source = try FrameSource(path)
        let frames = try Self.readAll(source)
        #expect(frames.count == 30)
        #expect(source.end == .endOfFile)
        #expect(source.stats.framesDelivered == 30)
        #expect(source.stats.corruptPackets == 0)
        for (i, f) in frames.enumerated() {
            #expect(f.index == i)
            #expect(f.width == 128 && f.height == 96 && f.sourceWidth == 128 && f.sourceHeight == 96)
            #expect(f.pixels.count == 128 * 96 * 3)
            #expect(MediaPattern.index(in: f.pixels, width: 128, height: 96) == i)
            #expect(abs(f.pts - Double(i) / 25) < 0.002)
            let p = MediaPattern.pixel(f.pixels, width: 128, x: 64, y: 24)
            let ref = MediaPattern.reference
            #expect(abs(p.r - Int(ref.r)) <= 12 && abs(p.g - Int(ref.g)) <= 12 && abs(p.b - Int(ref.b)) <= 12, "frame \(i): \(p)")
        }
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts })
        #expect(try source.next() == nil)
    }

    @Test func strideKeepsEveryKthFrameAndSkipsTheRest() throws {
        let source = try FrameSource(try Self.clip(30), options: FrameSourceOptions(every: 4))
        let frames = try Self.readAll(source)
        #expect(frames.map(\.index) == Array(stride(from: 0, to: 30, by: 4)))
        #expect(frames.map { MediaPattern.index(in: $0.pixels, width: 128, height: 96) } == Array(stride(from: 0, to: 30, by: 4)))
        #expect(source.stats.framesSkipped == 30 - 8)
        #expect(source.stats.framesDecoded == 30)
    }

    @Test func maxFramesStopsWithFrameLimit() throws {
        let source = try FrameSource(try Self.clip(20), options: FrameSourceOptions(maxFrames: 5))
        let frames = try Self.readAll(source)
        #expect(frames.count == 5)
        #expect(source.end == .frameLimit)
    }

    @Test func seekStartsAtTheFirstFrameAtOrAfterStartTime() throws {
        // 3 s clip, keyframes at 0 s and 2 s: seeking to 1.2 s lands on the keyframe at 0 and
        // decodes forward, dropping the frames before 1.2 s without scaling them.
        let source = try FrameSource(try Self.clip(75), options: FrameSourceOptions(startTime: 1.2))
        let frames = try Self.readAll(source)
        #expect(frames.count == 45)
        let first = try #require(frames.first)
        #expect(first.index == 0)
        #expect(abs(first.pts - 1.2) < 0.002)
        #expect(MediaPattern.index(in: first.pixels, width: 128, height: 96) == 30)
        #expect(MediaPattern.index(in: frames[44].pixels, width: 128, height: 96) == 74)
        #expect(source.stats.framesBeforeStart == source.stats.framesDecoded - 45)
    }

    @Test func stretchScalesToRequestedSize() throws {
        let source = try FrameSource(try Self.clip(3), options: FrameSourceOptions(width: 64, height: 64))
        let f = try #require(try source.next())
        #expect(f.width == 64 && f.height == 64 && f.pixels.count == 64 * 64 * 3)
        #expect(f.geometry == FrameGeometry(scaleX: 0.5, scaleY: 64.0 / 96, offsetX: 0, offsetY: 0, contentWidth: 64, contentHeight: 64))
        #expect(MediaPattern.index(in: f.pixels, width: 64, height: 64) == 0)
    }

    @Test func letterboxCentresPictureAndReportsGeometry() throws {
        let options = FrameSourceOptions(width: 64, height: 64, resize: .letterbox, letterboxFill: 7)
        let source = try FrameSource(try Self.clip(6), options: options)
        var last: VideoFrame?
        while let f = try source.next() { last = f }
        let f = try #require(last)
        let g = f.geometry
        #expect(g == FrameGeometry(scaleX: 0.5, scaleY: 0.5, offsetX: 0, offsetY: 8, contentWidth: 64, contentHeight: 48))
        // Padding rows keep the fill value; the picture sits between them.
        #expect(f.pixels[0..<(64 * 8 * 3)].allSatisfy { $0 == 7 })
        #expect(f.pixels[(64 * 56 * 3)...].allSatisfy { $0 == 7 })
        #expect(MediaPattern.index(in: f.pixels, width: 64, region: (0, 8, 64, 48), height: 64) == 5)
        let p = MediaPattern.pixel(f.pixels, width: 64, x: 32, y: 20)
        #expect(abs(p.r - 200) <= 12 && abs(p.g - 60) <= 12)
        // Output pixels map back to source pixels.
        let tl = g.sourcePoint(x: 0, y: 8), br = g.sourcePoint(x: 64, y: 56)
        #expect(tl.x == 0 && tl.y == 0 && br.x == 128 && br.y == 96)
        let box = g.sourceBox(x: 16, y: 18, width: 8, height: 4)
        #expect(box.x == 32 && box.y == 20 && box.width == 16 && box.height == 8)
    }

    @Test func letterboxGeometryForTallAndWideSources() {
        let wide = FrameGeometry(sourceWidth: 1280, sourceHeight: 720, width: 224, height: 224, mode: .letterbox)
        #expect(wide.contentWidth == 224 && wide.contentHeight == 126 && wide.offsetX == 0 && wide.offsetY == 49)
        let tall = FrameGeometry(sourceWidth: 720, sourceHeight: 1280, width: 224, height: 224, mode: .letterbox)
        #expect(tall.contentWidth == 126 && tall.contentHeight == 224 && tall.offsetX == 49 && tall.offsetY == 0)
    }

    @Test func infoDescribesTheDecodedStream() throws {
        let source = try FrameSource(try Self.clip(10))
        let video = try #require(source.info.video)
        #expect(video.codec == "h264")
        #expect(video.width == 128 && video.height == 96)
        #expect(video.frameCount == 10)
        #expect(video.fps == 25)
        #expect(source.isLive == false)
        #expect(source.streamIndex == video.index)
    }

    @Test func optionsValidateEveryField() {
        #expect(throws: MediaError.invalidOptions(field: "size", reason: "width and height must be given together")) {
            try FrameSourceOptions(width: 10).validate()
        }
        #expect(throws: MediaError.self) { try FrameSourceOptions(width: 0, height: 10).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(every: 0).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(maxFrames: 0).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(startTime: -1).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(startTime: .nan).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(startTime: 1e300).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(threads: -1).validate() }
        #expect(throws: MediaError.self) { try FrameSourceOptions(readTimeout: 0).validate() }
        #expect(throws: Never.self) { try FrameSourceOptions(width: 224, height: 224).validate() }
    }

    @Test func optionsDecodeFromPartialJSONWithDefaults() throws {
        let empty = try JSONDecoder().decode(FrameSourceOptions.self, from: Data("{}".utf8))
        #expect(empty == FrameSourceOptions())
        #expect(empty.scaler == .bilinear && empty.rtspTransport == .tcp && empty.every == 1 && empty.threads == 0)
        let some = try JSONDecoder().decode(FrameSourceOptions.self, from: Data(#"{"width":224,"height":224,"resize":"letterbox","every":2}"#.utf8))
        #expect(some == FrameSourceOptions(width: 224, height: 224, resize: .letterbox, every: 2))
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(FrameSourceOptions.self, from: Data(#"{"resize":"squash"}"#.utf8))
        }
    }

    @Test func localPathWithColonOpensAsAFile() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = try MediaPattern.writeClip(dir.appendingPathComponent("cam:1.mp4").path, count: 3)
        let source = try FrameSource(path)
        var n = 0
        while try source.next() != nil { n += 1 }
        #expect(n == 3)
    }

    @Test func namedPipeIsNotMistakenForAnEmptyFile() throws {
        let dir = try TestFiles.scratchDirectory()
        let clip = try MediaPattern.writeClip(dir.appendingPathComponent("clip.mp4").path, count: 4)
        let fifo = dir.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: clip))
        let writer = Thread {
            if let handle = FileHandle(forWritingAtPath: fifo) { handle.write(bytes); try? handle.close() }
        }
        writer.start()
        let source = try FrameSource(fifo)
        var n = 0
        while try source.next() != nil { n += 1 }
        #expect(n == 4)
        #expect(source.end == .endOfFile)
    }
}
