import Foundation
import Testing
@testable import KVVision

/// The ShapesWorld renderer: determinism, drawing, and ground truth consistent with the pixels.
@Suite struct SynthRendererTests {
    /// A one- or few-object hand-made clip on a 96×64 frame without noise or distractors.
    static func handMade(_ objects: [SceneObject], poses: [ObjectPose], frames: Int = 1, noise: Double = 0) throws -> ShapesWorldRenderer {
        var c = ScenarioConfig()
        c.width = 96
        c.height = 64
        c.fps = 25
        c.duration = Double(frames) / 25
        c.objects = objects.count...objects.count
        c.objectSize = 4...32
        c.noise = noise
        c.distractors = 0
        return ShapesWorldRenderer(script: try SceneScript(config: c, seed: 3, objects: objects, poses: poses))
    }

    static func object(_ id: Int, _ shape: ShapeClass, size: Double, depth: Int, color: [UInt8] = [230, 40, 40]) -> SceneObject {
        SceneObject(id: id, shapeClass: shape, color: color, size: size, depth: depth, segments: [.init(first: 0, last: 0, action: .idle)])
    }

    @Test func sameSeedRendersIdenticalFramesInAnyOrderAndDifferentSeedsDiffer() throws {
        let c = try SynthSceneTests.small("hard", seconds: 0.4)
        let a = try ShapesWorldRenderer(config: c, seed: 21), b = try ShapesWorldRenderer(config: c, seed: 21)
        let other = try ShapesWorldRenderer(config: c, seed: 22)
        var fa: [UInt8] = [], fb: [UInt8] = [], fo: [UInt8] = []
        var framesA: [[UInt8]] = []
        for t in 0..<a.script.frames {
            let ta = try a.render(frame: t, into: &fa)
            framesA.append(fa)
            _ = try b.render(frame: a.script.frames - 1 - t, into: &fb)  // b renders in reverse order
            try other.render(frame: t, into: &fo)
            #expect(fa != fo)
            #expect(ta == (try b.truth(frame: t)))
        }
        for t in stride(from: a.script.frames - 1, through: 0, by: -1) {
            try b.render(frame: t, into: &fb)
            #expect(fb == framesA[t], "frame \(t) differs when rendered out of order")
        }
    }

    @Test func consecutiveFramesChangeOnlySlightlyInTheBackground() throws {
        var c = try SynthSceneTests.small("easy", seconds: 0.2)
        c.objects = 0...0
        c.noise = 0
        let r = try ShapesWorldRenderer(config: c, seed: 4)
        var f0: [UInt8] = [], f1: [UInt8] = []
        try r.render(frame: 0, into: &f0)
        try r.render(frame: 1, into: &f1)
        let diff = zip(f0, f1).map { abs(Int($0) - Int($1)) }
        #expect(diff.max()! <= 8)
        #expect(f0 != f1 || c.backgroundDrift == 0)
        // Textured: not a flat colour.
        let greens = stride(from: 1, to: f0.count, by: 3).map { f0[$0] }
        #expect(greens.max()! - greens.min()! > 10)
    }

    @Test func noiseHasTheConfiguredSpread() throws {
        var c = try SynthSceneTests.small("easy", seconds: 0.04)
        c.objects = 0...0
        c.noise = 0
        var clean: [UInt8] = [], noisy: [UInt8] = []
        try ShapesWorldRenderer(config: c, seed: 8).render(frame: 0, into: &clean)
        c.noise = 6
        try ShapesWorldRenderer(config: c, seed: 8).render(frame: 0, into: &noisy)
        let d = zip(clean, noisy).map { Double(Int($1) - Int($0)) }
        let mean = d.reduce(0, +) / Double(d.count)
        let sd = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
        #expect(abs(mean) < 0.3)
        #expect(abs(sd - 6) < 0.5)
    }

    @Test func objectDrawnFullyVisibleHasItsOwnPixelsAndColour() throws {
        let square = Self.object(1, .square, size: 20, depth: 0)
        let r = try Self.handMade([square], poses: [ObjectPose(x: 40, y: 30, angle: 0)])
        var rgb: [UInt8] = []
        let t = try r.render(frame: 0, into: &rgb)
        let o = try #require(t.objects.first)
        #expect(o.visiblePixels == 400 && o.totalPixels == 400)
        #expect((o.x, o.y, o.w, o.h) == (30, 20, 20, 20))
        #expect(GroundTruthText.visibility(o) == "1.000")
        // A body pixel away from the marker has the body colour; the marker sits along +x.
        let body = (22 * 96 + 32) * 3, marker = (30 * 96 + 45) * 3
        #expect(Array(rgb[body..<body + 3]) == [230, 40, 40])
        #expect(Array(rgb[marker..<marker + 3]) == [240, 240, 240])
        // Anti-aliased: a half-covered edge pixel is a blend, neither body nor background.
        let rotated = try Self.handMade([square], poses: [ObjectPose(x: 40, y: 30, angle: 0.5)])
        try rotated.render(frame: 0, into: &rgb)
        var partial = 0
        for y in 10..<50 { for x in 20..<60 {
            let red = Int(rgb[(y * 96 + x) * 3])
            if red > 0, red < 230, rgb[(y * 96 + x) * 3 + 1] > 40 { partial += 1 }
        } }
        #expect(partial > 20)
    }

    @Test func fullyOccludedObjectHasVisibilityZeroAndItsFullExtent() throws {
        let small = Self.object(1, .circle, size: 12, depth: 0, color: [0, 200, 0])
        let big = Self.object(2, .square, size: 30, depth: 1)
        let r = try Self.handMade([small, big], poses: [ObjectPose(x: 50, y: 30, angle: 1), ObjectPose(x: 50, y: 30, angle: 0)])
        var rgb: [UInt8] = []
        let t = try r.render(frame: 0, into: &rgb)
        let hidden = try #require(t.objects.first { $0.id == 1 })
        #expect(hidden.visiblePixels == 0 && hidden.totalPixels > 100)
        #expect(GroundTruthText.visibility(hidden) == "0.000")
        #expect(hidden.x == 44 && hidden.y == 24 && hidden.w == 12 && hidden.h == 12)
        #expect(GroundTruthText.lines(t).hasPrefix("1,1,44.00,24.00,12.00,12.00,1,1,0.000\n1,2,35.00,15.00,30.00,30.00,1,2,1.000\n"))
        // No green pixel is drawn.
        #expect(!stride(from: 0, to: rgb.count, by: 3).contains { rgb[$0 + 1] > 150 && rgb[$0] < 100 })
    }

    @Test func partlyOccludedObjectBoxCoversOnlyItsVisiblePart() throws {
        let back = Self.object(1, .square, size: 20, depth: 0)
        let front = Self.object(2, .square, size: 20, depth: 1, color: [20, 20, 220])
        // Front square covers the right half of the back square.
        let r = try Self.handMade([back, front], poses: [ObjectPose(x: 40, y: 30, angle: 0), ObjectPose(x: 50, y: 30, angle: 0)])
        let t = try r.truth(frame: 0)
        let o = try #require(t.objects.first { $0.id == 1 })
        #expect((o.x, o.y, o.w, o.h) == (30, 20, 10, 20))
        #expect(o.visiblePixels == 200 && o.totalPixels == 400)
        #expect(GroundTruthText.visibility(o) == "0.500")
    }

    @Test func visibilityCountsPixelsOutsideTheImage() throws {
        let square = Self.object(1, .square, size: 20, depth: 0)
        // Half outside the left edge; then fully outside (box unclipped, negative).
        let r = try Self.handMade([square], poses: [ObjectPose(x: 0, y: 30, angle: 0), ObjectPose(x: -30, y: 30, angle: 0)], frames: 2)
        let half = try #require(try r.truth(frame: 0).objects.first)
        #expect(half.visiblePixels == 200 && half.totalPixels == 400)
        #expect((half.x, half.w) == (0, 10))
        let out = try #require(try r.truth(frame: 1).objects.first)
        #expect(out.visiblePixels == 0 && out.totalPixels == 400)
        #expect((out.x, out.y, out.w, out.h) == (-40, 20, 20, 20))
        #expect(GroundTruthText.lines(try r.truth(frame: 1)) == "2,1,-40.00,20.00,20.00,20.00,1,2,0.000\n")
    }

    @Test func renderRejectsFramesOutsideTheClip() throws {
        let r = try Self.handMade([], poses: [])
        var rgb: [UInt8] = []
        #expect(throws: SynthError.frameOutOfRange(frame: 1, frames: 1)) { try r.render(frame: 1, into: &rgb) }
        #expect(throws: SynthError.self) { try r.truth(frame: -1) }
    }

    /// Pixels the objects changed (vs. the same seed's empty scene) lie in a visible object's box
    /// or its anti-aliased fringe (2 px: a 60° triangle tip's sub-half-coverage ramp reaches that far), and every visible box holds changed pixels, for every frame of random clips.
    @Test func groundTruthBoxesMatchTheDrawnPixels() throws {
        for seed in UInt64(1)...3 {
            var c = try SynthSceneTests.small("hard", seconds: 1.2)
            c.noise = 0
            let scene = try ShapesWorldRenderer(config: c, seed: seed)
            var empty = c
            empty.objects = 0...0
            let plain = try ShapesWorldRenderer(config: empty, seed: seed)
            var a: [UInt8] = [], b: [UInt8] = []
            for t in 0..<scene.script.frames {
                let truth = try scene.render(frame: t, into: &a)
                try plain.render(frame: t, into: &b)
                let boxes = truth.objects.filter { $0.visiblePixels > 0 }
                var changedInBox = [Int](repeating: 0, count: boxes.count)
                for y in 0..<c.height { for x in 0..<c.width {
                    let i = (y * c.width + x) * 3
                    let d = abs(Int(a[i]) - Int(b[i])) + abs(Int(a[i + 1]) - Int(b[i + 1])) + abs(Int(a[i + 2]) - Int(b[i + 2]))
                    guard d > 24 else { continue }
                    var inside = false
                    for (k, o) in boxes.enumerated() where x >= o.x - 2 && x <= o.x + o.w + 1 && y >= o.y - 2 && y <= o.y + o.h + 1 {
                        inside = true
                        changedInBox[k] += 1
                    }
                    #expect(inside, "seed \(seed) frame \(t): pixel (\(x),\(y)) changed by \(d) outside every visible box")
                } }
                for (k, o) in boxes.enumerated() {
                    #expect(changedInBox[k] >= o.visiblePixels / 2, "seed \(seed) frame \(t) id \(o.id): box holds too few drawn pixels")
                    #expect(o.x >= 0 && o.y >= 0 && o.x + o.w <= c.width && o.y + o.h <= c.height)
                }
            }
        }
    }
}
