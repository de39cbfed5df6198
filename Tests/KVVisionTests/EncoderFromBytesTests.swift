import Foundation
import Testing
@testable import KVVision

/// The encoder and the det stem read straight from a frame's RGB bytes (what `track` does) give
/// the same bits as the same layers on the normalised f32 frame: the unfold normalises each byte
/// with the very operations `ImageNormalization` uses, and the int8 stem's first conv already read
/// bytes. Patch 8 runs the portable unfold, patch 16 the AVX-512 one where the CPU has it.
@Suite struct EncoderFromBytesTests {
    static let tinyPath = TestFiles.fixture("vit/tiny.safetensors").path
    static let goldenPath = TestFiles.fixture("model/golden-model.safetensors").path

    /// `height` rows of `rowBytes` bytes (3·width used, the rest 255 and never to be read).
    static func frame(width: Int, height: Int, rowBytes: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var rgb = [UInt8](repeating: 255, count: rowBytes * height)
        for y in 0..<height { for i in 0..<(3 * width) { rgb[y * rowBytes + i] = UInt8(truncatingIfNeeded: rng.next()) } }
        return rgb
    }

    /// The unfold of the bytes equals the unfold of the normalised frame, bit for bit, for both
    /// patch sizes, padded rows, and split over threads.
    @Test(arguments: [(8, 40, 48), (16, 48, 64), (16, 240, 320)])
    func unfoldingTheBytesEqualsUnfoldingTheNormalisedFrame(patch p: Int, height h: Int, width w: Int) throws {
        let norm = try ImageNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        let rowBytes = 3 * w + 5
        let rgb = Self.frame(width: w, height: h, rowBytes: rowBytes, seed: UInt64(p * 1000 + w))
        var image = Tensor(shape: [0]), want = Tensor(shape: [0])
        try norm.apply(rgb: rgb, width: w, height: h, stride: rowBytes, into: &image)
        try PatchEmbedding.im2col(image, patch: p, into: &want)
        for threads in [1, 3] {
            var got = Tensor(shape: [0])
            try PatchEmbedding.im2col(rgb: rgb, width: w, height: h, rowBytes: rowBytes, scale: norm.scale, offset: norm.offset,
                                      patch: p, into: &got, pool: ComputeContext(threads: threads).pool)
            #expect(got.shape == want.shape)
            #expect(got.storage.map(\.bitPattern) == want.storage.map(\.bitPattern), "patch \(p), \(threads) thread(s)")
        }
    }

    @Test func unfoldingRefusesShortBytesAndSizesOffThePatchGrid() throws {
        var out = Tensor(shape: [0])
        let s: [Float] = [1, 1, 1], o: [Float] = [0, 0, 0]
        #expect(throws: TensorError.self) {
            try PatchEmbedding.im2col(rgb: [UInt8](repeating: 0, count: 3 * 16 * 16 - 1), width: 16, height: 16, rowBytes: 48,
                                      scale: s, offset: o, patch: 16, into: &out)
        }
        #expect(throws: TensorError.self) {
            try PatchEmbedding.im2col(rgb: [UInt8](repeating: 0, count: 3 * 24 * 16), width: 24, height: 16, rowBytes: 72,
                                      scale: s, offset: o, patch: 16, into: &out)
        }
        #expect(throws: TensorError.self) {
            try PatchEmbedding.im2col(rgb: [UInt8](repeating: 0, count: 3 * 16 * 16), width: 16, height: 16, rowBytes: 47,
                                      scale: s, offset: o, patch: 16, into: &out)
        }
    }

    /// `encode(rgb:)` leaves the same tokens as `encode` of the normalised frame (f32 and int8
    /// models, 1 and 2 threads), and refuses a frame of another size.
    @Test(arguments: [Precision.f32, .int8])
    func encodingTheBytesGivesTheTokensOfTheNormalisedFrame(precision: Precision) throws {
        for path in [Self.tinyPath, Self.goldenPath] {
            let file = try SafetensorsFile(path: path)
            let config = try ModelConfig.from(file)
            let (vit, _) = try VisionTransformer.load(file, config: config, precision: precision)
            let h = config.imageSize[0], w = config.imageSize[1], rowBytes = 3 * w + 3
            let rgb = Self.frame(width: w, height: h, rowBytes: rowBytes, seed: 7)
            var image = Tensor(shape: [0])
            try vit.normalization.apply(rgb: rgb, width: w, height: h, stride: rowBytes, into: &image)
            for threads in [1, 2] {
                let context = ComputeContext(threads: threads)
                var a = try vit.makeState(height: h, width: w), b = try vit.makeState(height: h, width: w)
                try vit.encode(image, state: &a, context: context)
                try vit.encode(rgb: rgb, width: w, height: h, rowBytes: rowBytes, state: &b, context: context)
                #expect(a.tokens.storage.map(\.bitPattern) == b.tokens.storage.map(\.bitPattern), "\(path) \(precision) \(threads)")
            }
            var state = try vit.makeState(height: h, width: w)
            #expect(throws: WeightsError.self) { try vit.encode(rgb: rgb, width: w - config.patchSize, height: h, rowBytes: rowBytes, state: &state) }
            #expect(throws: WeightsError.self) { try vit.encode(rgb: Array(rgb.prefix(rgb.count - 4)), width: w, height: h, rowBytes: rowBytes, state: &state) }
        }
    }

    /// `stem(rgb:)` gives the maps of `stem(pixels:rgb:)` on the normalised frame: an int8 head
    /// whose first conv reads bytes runs it on them, an f32 head normalises them first.
    @Test(arguments: [Precision.f32, .int8])
    func theDetStemFromBytesAloneGivesTheMapsOfTheNormalisedFrame(precision: Precision) throws {
        let model = try TrackingModel.load(path: Self.goldenPath, precision: precision)
        #expect(model.det.readsFrameBytes == (precision == .int8 && Int8PixelConv.kernelAvailable))
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        let rgb = Self.frame(width: w, height: h, rowBytes: 3 * w, seed: 11)
        var image = Tensor(shape: [0])
        try model.encoder.normalization.apply(rgb: rgb, width: w, height: h, into: &image)
        var encoder = try model.encoder.makeState(height: h, width: w)
        try model.encoder.encode(rgb: rgb, width: w, height: h, state: &encoder)
        var a = DetectionHead.State(), b = DetectionHead.State()
        try model.det.forward(pixels: image, rgb: rgb, tokens: encoder.tokens, state: &a)
        try model.det.stem(rgb: rgb, state: &b)
        try model.det.forward(tokens: encoder.tokens, state: &b)
        #expect(a.maps.storage.map(\.bitPattern) == b.maps.storage.map(\.bitPattern))
        #expect(a.features.storage.map(\.bitPattern) == b.features.storage.map(\.bitPattern))
        #expect(throws: WeightsError.self) { try model.det.stem(rgb: Array(rgb.prefix(3 * w)), state: &b) }
    }
}
