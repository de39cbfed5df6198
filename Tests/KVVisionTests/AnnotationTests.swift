import Foundation
import Testing
@testable import KVVision

/// `--annotate`: what `FrameAnnotator` draws, and the annotated video `track` writes.
@Suite struct AnnotationTests {
    static func object(_ id: Int, _ box: Box, state: TrackedObject.State = .confirmed) -> TrackedObject {
        TrackedObject(id: id, class: "circle", score: 0.9, box: box, state: state, action: .init(label: "walk", score: 0.8))
    }

    static func pixel(_ p: [UInt8], _ w: Int, _ x: Int, _ y: Int) -> [UInt8] { Array(p[((y * w + x) * 3)..<((y * w + x) * 3 + 3)]) }

    @Test func boxOutlineLabelBarAndTextAreDrawnInTheIdsColour() {
        let w = 64, h = 48
        var p = [UInt8](repeating: 0, count: w * h * 3)
        FrameAnnotator().draw([Self.object(3, Box(x: 10, y: 20, w: 30, h: 20))], on: &p, width: w, height: h)
        let c = FrameAnnotator.color(id: 3)
        let rgb = [c.r, c.g, c.b]
        #expect(Self.pixel(p, w, 10, 30) == rgb && Self.pixel(p, w, 11, 30) == rgb, "left edge, 2 px")
        #expect(Self.pixel(p, w, 39, 30) == rgb && Self.pixel(p, w, 25, 39) == rgb, "right and bottom edges")
        #expect(Self.pixel(p, w, 25, 30) == [0, 0, 0], "the inside stays untouched")
        #expect(Self.pixel(p, w, 10, 19) == rgb, "the label bar sits above the box")
        let label = FrameAnnotator.label(Self.object(3, Box(x: 0, y: 0, w: 1, h: 1)))
        #expect(label == "3 circle walk")
        // Text pixels differ from the bar colour inside the bar.
        var ink = 0
        for y in 11..<20 { for x in 10..<(10 + BitmapFont.width(label)) where Self.pixel(p, w, x, y) != rgb && Self.pixel(p, w, x, y) != [0, 0, 0] { ink += 1 } }
        #expect(ink > 20)
    }

    @Test func lostObjectsAreDashedAndBoxesOutsideOrInvalidDrawNothing() {
        let w = 64, h = 48
        var p = [UInt8](repeating: 0, count: w * h * 3)
        FrameAnnotator(thickness: 1).draw([Self.object(1, Box(x: 0, y: 30, w: 60, h: 10), state: .lost)], on: &p, width: w, height: h)
        let row = (0..<60).map { Self.pixel(p, w, $0, 39) != [0, 0, 0] }
        #expect(row.contains(true) && row.contains(false), "dashed bottom edge")
        var q = [UInt8](repeating: 0, count: w * h * 3)
        FrameAnnotator().draw([Self.object(2, Box(x: 100, y: 100, w: 5, h: 5)), Self.object(4, Box(x: .nan, y: 0, w: 5, h: 5)),
                               Self.object(5, Box(x: 5, y: 5, w: 0, h: 5))], on: &q, width: w, height: h)
        #expect(q.allSatisfy { $0 == 0 })
    }

    @Test func trackAnnotateWritesOneVideoFramePerAnalysedFrame() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = TrackCLITests.easy.appendingPathComponent("video.mp4").path
        let out = dir.appendingPathComponent("annotated.mp4").path
        let r = try CLIRunner.run(["track", video, "--model", TestFiles.fixture("model/golden-model.safetensors").path,
                                   "--max-frames", "10", "--annotate", out, "--progress", "never"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        let source = try FrameSource(out)
        var frames = 0
        while let f = try source.next() { frames += 1; #expect(f.width == 96 && f.height == 64) }
        #expect(frames == 10)
    }
}
