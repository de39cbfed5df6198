import Foundation
import Testing
@testable import KVVision

/// `BlendedAppearance` (`color_weight`): the model's appearance vectors joined with a colour
/// histogram, so that the tracker's cosine is `(1 − c)·model + c·colour`.
@Suite struct BlendedAppearanceTests {
    /// An appearance stage returning fixed unit vectors, one per box in order.
    final class Fixed: AppearanceModel {
        let vectors: [[Float]]
        var prepared = 0
        init(_ vectors: [[Float]]) { self.vectors = vectors }
        var tokens: Tensor? { nil }
        func prepare(_ frame: VideoFrame) throws(PipelineError) { prepared += 1 }
        func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]] { Array(vectors.prefix(boxes.count)) }
    }

    /// A 40×20 frame: left half red, right half blue.
    static func frame() -> VideoFrame {
        var pixels = [UInt8](repeating: 0, count: 40 * 20 * 3)
        for y in 0..<20 { for x in 0..<40 { pixels[(y * 40 + x) * 3 + (x < 20 ? 0 : 2)] = 220 } }
        let g = FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: 40, contentHeight: 20)
        return VideoFrame(index: 0, pts: 0, sourceWidth: 40, sourceHeight: 20, width: 40, height: 20, pixels: pixels, geometry: g)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double { Double(zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }) }

    /// A detections file may put a box anywhere: one far outside the frame (or astronomically
    /// large) gets an empty histogram or the whole frame's, never a trap converting it to pixels.
    @Test func colourOfBoxesFarOutsideTheFrame() {
        let frame = Self.frame()
        let colour = ColorAppearance()
        let boxes = [Box(x: 1e300, y: 0, w: 1, h: 1), Box(x: -1e300, y: -1e300, w: 1, h: 1), Box(x: -1e300, y: -1e300, w: 1e300, h: 1e300),
                     Box(x: 2, y: 2, w: 8, h: 8)]
        let v = colour.embeddings(for: boxes, in: frame)
        #expect(v.count == 4 && v.allSatisfy { $0.count == 64 })
        #expect(v[0].allSatisfy { $0 == 0 } && v[1].allSatisfy { $0 == 0 }, "no pixel: all zero")
        #expect(abs(Self.cosine(v[3], v[3]) - 1) < 1e-6)
    }

    @Test(arguments: [0.0, 0.3, 0.7, 1.0])
    func cosineIsTheWeightedMeanOfBoth(weight: Double) throws {
        let s = Float(0.5).squareRoot()
        let model = Fixed([[1, 0], [s, s], [0, 1]])
        let blended = BlendedAppearance(model, weight: weight)
        let frame = Self.frame()
        try blended.prepare(frame)
        #expect(model.prepared == 1)
        // Two red boxes (same colour) and one blue box.
        let boxes = [Box(x: 2, y: 2, w: 8, h: 8), Box(x: 10, y: 10, w: 8, h: 8), Box(x: 25, y: 5, w: 10, h: 10)]
        let v = blended.embeddings(for: boxes, in: frame)
        let colour = ColorAppearance().embeddings(for: boxes, in: frame)
        #expect(v.count == 3 && v.allSatisfy { $0.count == 2 + colour[0].count })
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let expected = (1 - weight) * Self.cosine(model.vectors[i], model.vectors[j]) + weight * Self.cosine(colour[i], colour[j])
            #expect(abs(Self.cosine(v[i], v[j]) - expected) < 1e-6, "boxes \(i), \(j)")
        }
        for x in v { #expect(abs(Self.cosine(x, x) - 1) < 1e-6, "unit length") }
        // Same colour, different model vectors: the colour part pulls them together as c grows.
        #expect(Self.cosine(colour[0], colour[1]) > 0.99 && Self.cosine(colour[0], colour[2]) < 0.01)
    }

    @Test func aBoxWithoutAModelVectorGetsNone() throws {
        let blended = BlendedAppearance(Fixed([[1, 0], []]), weight: 0.5)
        let frame = Self.frame()
        try blended.prepare(frame)
        let v = blended.embeddings(for: [Box(x: 2, y: 2, w: 8, h: 8), Box(x: 25, y: 5, w: 10, h: 10)], in: frame)
        #expect(v[0].count == 2 + 64 && v[1].isEmpty)
    }

    /// An object entering along the frame's edge: the model's grid samples of a sliver are mostly
    /// background, so a cut box is described by its colour alone.
    @Test func aBoxCutByTheFrameEdgeGetsTheColourPartAlone() throws {
        let weight = 0.3
        let blended = BlendedAppearance(Fixed([[1, 0], [0, 1], [0, 1]]), weight: weight)
        let frame = Self.frame()
        try blended.prepare(frame)
        // Whole red box; a red sliver on the left edge; a blue one on the right edge.
        let boxes = [Box(x: 5, y: 5, w: 8, h: 8), Box(x: 0, y: 6, w: 3, h: 8), Box(x: 37, y: 6, w: 3, h: 8)]
        let v = blended.embeddings(for: boxes, in: frame)
        let colour = ColorAppearance().embeddings(for: boxes, in: frame)
        #expect(v[1][0] == 0 && v[1][1] == 0 && Array(v[1][2...]) == colour[1], "model part zero, colour part whole")
        #expect(abs(Self.cosine(v[1], v[1]) - 1) < 1e-6)
        // Against the whole red box: √c·colour cosine, not the blend (the model vectors disagree).
        #expect(abs(Self.cosine(v[0], v[1]) - weight.squareRoot() * Self.cosine(colour[0], colour[1])) < 1e-6)
        #expect(Self.cosine(v[0], v[1]) > 0.5 && Self.cosine(v[0], v[2]) < 0.01)
    }

    /// Boxes are in source pixels: "cut" means touching the source picture's edge, as the tracker
    /// decides it, not the edge of the (smaller) converted frame.
    @Test func cutIsJudgedInSourcePixels() throws {
        let small = Self.frame()  // 40×20 pixels …
        let g = FrameGeometry(scaleX: 0.5, scaleY: 0.5, offsetX: 0, offsetY: 0, contentWidth: 40, contentHeight: 20)
        let frame = VideoFrame(index: 0, pts: 0, sourceWidth: 80, sourceHeight: 40, width: 40, height: 20,
                               pixels: small.pixels, geometry: g)  // … of an 80×40 source
        let blended = BlendedAppearance(Fixed([[1, 0], [1, 0]]), weight: 0.5)
        try blended.prepare(frame)
        // Inside the source (right of the converted frame's width in source pixels), and on its left edge.
        let v = blended.embeddings(for: [Box(x: 50, y: 10, w: 20, h: 16), Box(x: 0, y: 10, w: 6, h: 16)], in: frame)
        #expect(abs(v[0][0] - Float(0.5).squareRoot()) < 1e-6, "whole box: the blend")
        #expect(v[1][0] == 0, "cut box: colour alone")
    }

    @Test func colorWeightIsATrackerSettingChecked() throws {
        let c = try JSONDecoder().decode(TrackerConfig.self, from: Data(#"{"color_weight": 0.6}"#.utf8))
        #expect(c.colorWeight == 0.6 && TrackerConfig().colorWeight == 0)
        var bad = TrackerConfig()
        bad.colorWeight = 1.5
        #expect(throws: TrackingError.invalidConfig(key: "color_weight", value: "1.5", rule: "must be in 0...1")) { try bad.validate() }
    }
}
