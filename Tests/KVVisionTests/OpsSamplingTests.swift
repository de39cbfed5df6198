import Foundation
import Testing
@testable import KVVision

/// `PixelShuffle` and `BilinearSampling` against PyTorch fixtures (tools/reference/make_op_fixtures.py).
///
/// Tolerances: pixel shuffle is a permutation (exact); bilinear sampling and resizing within 2e-6
/// absolute on values in [−1, 1] (four products summed in f32, as PyTorch's CPU kernel).
@Suite struct OpsSamplingTests {
    @Test(arguments: [(2, 2, 3, 5), (3, 3, 2, 3)])
    func pixelShuffleMatchesPyTorch(_ r: Int, _ c: Int, _ h: Int, _ w: Int) throws {
        let x = try OpFixtures.tensor([c * r * r, h, w], seed: 200 + r)
        let expected = try OpFixtures.load("pixel_shuffle_r\(r)")
        var out = Tensor(shape: [0])
        try PixelShuffle.apply(x, upscale: r, into: &out)
        #expect(out == expected)
        // The same from tokens [H·W, C·r²] (a Linear over the patch grid): transpose first.
        var tokens = x
        try tokens.reshape([c * r * r, h * w])
        tokens = try tokens.transposed()
        var fromTokens = Tensor(shape: [0])
        try PixelShuffle.fromTokens(tokens, height: h, width: w, upscale: r, into: &fromTokens)
        #expect(fromTokens == expected)
        // Into the leading channels of a wider map (the det head's joined map): the rest is kept.
        let plane = h * r * w * r
        var joined = try Tensor(shape: [c + 2, h * r, w * r], storage: [Float](repeating: 7, count: (c + 2) * plane))
        try PixelShuffle.fromTokens(tokens, height: h, width: w, upscale: r, into: &joined, channels: c + 2)
        #expect(joined.shape == [c + 2, h * r, w * r])
        #expect(Array(joined.storage[0..<(c * plane)]) == expected.storage && joined.storage[(c * plane)...].allSatisfy { $0 == 7 })
        #expect(throws: TensorError.self) { try PixelShuffle.fromTokens(tokens, height: h, width: w, upscale: r, into: &joined, channels: c - 1) }
        #expect(throws: TensorError.self) { try PixelShuffle.apply(Tensor(shape: [5, 2, 2]), upscale: 2, into: &out) }
        #expect(throws: TensorError.self) { try PixelShuffle.fromTokens(tokens, height: h + 1, width: w, upscale: r, into: &out) }
    }

    @Test func gridSampleMatchesPyTorch() throws {
        let feat = try OpFixtures.tensor([3, 5, 7], seed: 300)
        let grid = try OpFixtures.load("grid_points")
        let expected = try OpFixtures.load("grid_sample")
        var out = Tensor(shape: [0])
        try BilinearSampling.gridSample(feat, grid: grid, into: &out)
        #expect(out.shape == [3, 4, 6])
        #expect(OpFixtures.maxAbsDiff(out, expected) <= 2e-6)
        // Corners: g = ±1 is the outer edge, half a pixel outside the outer centres: ¼ of the corner pixel.
        #expect(abs(out[0, 0, 0] - 0.25 * feat[0, 0, 0]) <= 1e-7)
        #expect(abs(out[1, 0, 1] - 0.25 * feat[1, 4, 6]) <= 1e-7)
        // g = 0 on an odd map is the centre pixel's centre exactly.
        #expect(abs(out[2, 0, 2] - feat[2, 2, 3]) <= 1e-7)
        #expect(out[0, 0, 5] == 0)  // far outside
    }

    @Test func boxSamplingMatchesGridSampleAtBoxGridPoints() throws {
        let fmap = try OpFixtures.tensor([4, 30, 40], seed: 400)
        let boxes = try OpFixtures.load("box_sample_boxes")
        let expected = try OpFixtures.load("box_sample")
        var out = Tensor(shape: [0])
        try BilinearSampling.sampleBoxes(fmap, boxes: boxes, stride: 8, points: 3, into: &out)
        #expect(out.shape == [7, 4, 3, 3])
        #expect(OpFixtures.maxAbsDiff(out, expected) <= 2e-6)
        // A 24×24-pixel box aligned to 3×3 stride-8 cells samples exactly those cells' centres.
        let aligned = try Tensor(shape: [1, 4], storage: [80, 16, 104, 40])
        try BilinearSampling.sampleBoxes(fmap, boxes: aligned, stride: 8, points: 3, into: &out)
        for c in 0..<4 { for i in 0..<3 { for j in 0..<3 { #expect(abs(out[0, c, i, j] - fmap[c, 2 + i, 10 + j]) <= 1e-6) } } }
        // The same box in feature-map pixels with stride 1.
        var inCells = Tensor(shape: [0])
        try BilinearSampling.sampleBoxes(fmap, boxes: try Tensor(shape: [1, 4], storage: [10, 2, 13, 5]), stride: 1, points: 3, into: &inCells)
        #expect(OpFixtures.maxAbsDiff(inCells, out) <= 1e-6)
        #expect(throws: TensorError.self) { try BilinearSampling.sampleBoxes(fmap, boxes: Tensor(shape: [2, 3]), stride: 8, points: 3, into: &out) }
        #expect(throws: TensorError.self) { try BilinearSampling.sampleBoxes(fmap, boxes: aligned, stride: 0, points: 3, into: &out) }
    }

    /// What `TokenHead.appearance` relies on: the point-major samples are `sampleBoxes`'s values
    /// (bit for bit), and a 1×1 conv applied at the points (`W·s + b·Σw`) equals sampling the conv's
    /// map, including points near and beyond the edge, where the map's corners outside read zero.
    @Test func pointMajorSamplesCommuteWithAOneByOneConv() throws {
        let fmap = try OpFixtures.tensor([6, 30, 40], seed: 401)
        let weight = try OpFixtures.tensor([5, 6, 1, 1], seed: 402), bias = try OpFixtures.tensor([5], seed: 403)
        let conv = try Conv2D(weight: weight, bias: bias)
        // Inside, across the left and bottom edges, and wholly outside the 320×240 image.
        let boxes = try Tensor(shape: [4, 4], storage: [40, 30, 90, 70, -7, 100, 5, 150, 250, 200, 340, 260, 400, 300, 450, 350])
        var map = Tensor(shape: [0]), scratch = Tensor(shape: [0]), expected = Tensor(shape: [0])
        try conv.forward(fmap, into: &map, scratch: &scratch)
        try BilinearSampling.sampleBoxes(map, boxes: boxes, stride: 8, points: 3, into: &expected)
        var plain = Tensor(shape: [0]), points = Tensor(shape: [0]), sums = Tensor(shape: [0])
        try BilinearSampling.sampleBoxes(fmap, boxes: boxes, stride: 8, points: 3, into: &plain)
        try BilinearSampling.sampleBoxesPointMajor(fmap, boxes: boxes, stride: 8, points: 3, into: &points, weightSums: &sums)
        #expect(points.shape == [36, 6] && sums.shape == [36])
        for b in 0..<4 { for ch in 0..<6 { for p in 0..<9 { #expect(points[b * 9 + p, ch] == plain[b, ch, p / 3, p % 3]) } } }
        #expect(sums[4] == 1 && sums[27 + 4] == 0, "a point inside weighs 1, one outside 0")
        #expect(sums[9 + 4] > 0 && sums[9 + 4] < 1, "a point within half a cell outside the left edge weighs less than 1")
        var worst: Float = 0
        for b in 0..<4 {
            for p in 0..<9 {
                for o in 0..<5 {
                    var v: Float = bias[o] * sums[b * 9 + p]
                    for ch in 0..<6 { v += weight[o, ch, 0, 0] * points[b * 9 + p, ch] }
                    worst = max(worst, abs(v - expected[b, o, p / 3, p % 3]))
                }
            }
        }
        #expect(worst <= 1e-5, "max |Δ| \(worst)")
        var out = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try BilinearSampling.sampleBoxesPointMajor(fmap, boxes: Tensor(shape: [2, 3]), stride: 8, points: 3, into: &out, weightSums: &sums) }
    }

    @Test(arguments: [(8, 10), (7, 11), (3, 4), (4, 5)])
    func resizeMatchesInterpolate(_ h: Int, _ w: Int) throws {
        let x = try OpFixtures.tensor([3, 4, 5], seed: 450)
        let expected = try OpFixtures.load("interpolate_\(h)x\(w)")
        var out = Tensor(shape: [0])
        try BilinearSampling.resize(x, height: h, width: w, into: &out)
        #expect(OpFixtures.maxAbsDiff(out, expected) <= 2e-6)
        if (h, w) == (4, 5) { #expect(out == x) }
    }
}
