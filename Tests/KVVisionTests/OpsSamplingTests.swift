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
