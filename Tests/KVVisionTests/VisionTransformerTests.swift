import Foundation
import Testing
@testable import KVVision

/// The ViT encoder against timm reference outputs (tools/reference/make_vit_fixtures.py).
@Suite struct VisionTransformerTests {
    static func path(_ name: String) -> String { TestFiles.fixture("vit/" + name).path }

    /// Encodes every frame of `input` and returns (max abs error, max error relative to the
    /// largest reference magnitude) against `expected`.
    static func compare(model: String, input: String, expected: String) throws -> (abs: Double, rel: Double) {
        let (vit, unused) = try VisionTransformer.load(path: path(model))
        #expect(unused.isEmpty, "unused tensors: \(unused)")
        let x = try NpyFile.read(path: path(input))
        let want = try NpyFile.read(path: path(expected))
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        var state = try vit.makeState(height: h, width: w)
        let tokens = want.count / n
        #expect(want.shape == [n, 1 + (h / 8) * (w / 8), vit.config.dim])
        var worst = 0.0, scale = 0.0
        for f in 0..<n {
            let frame = try Tensor(shape: [3, h, w], storage: Array(x.storage[(f * 3 * h * w)..<((f + 1) * 3 * h * w)]))
            try vit.encode(frame, state: &state)
            #expect(state.tokens.count == tokens)
            for i in 0..<tokens {
                let ref = Double(want.storage[f * tokens + i])
                worst = max(worst, abs(Double(state.tokens.storage[i]) - ref))
                scale = max(scale, abs(ref))
            }
        }
        print("vit fixture \(model) \(input): max abs error \(worst), relative \(worst / scale)")
        return (worst, worst / scale)
    }

    /// (model, input, expected): F32 weights; F16 weights vs timm with the same rounded weights;
    /// a larger and a smaller grid than the trained one (position embedding resampled).
    static let fixtureCases = [
        ("tiny.safetensors", "input.npy", "expected.npy"),
        ("tiny-f16.safetensors", "input.npy", "expected-f16.npy"),
        ("tiny.safetensors", "input-grid.npy", "expected-grid.npy"),
        ("tiny.safetensors", "input-grid-small.npy", "expected-grid-small.npy"),
    ]

    @Test(arguments: fixtureCases)
    func matchesTimmTo1e4(model: String, input: String, expected: String) throws {
        let e = try Self.compare(model: model, input: input, expected: expected)
        #expect(e.abs <= 1e-4)
    }

    @Test func poolSplitGEMMsAndFusedAttentionGiveTheSameTokens() throws {
        // 80×96 at patch 8: 120 patches, 121 tokens — every GEMM and attention split in 3 over 3 threads.
        let (vit, _) = try VisionTransformer.load(path: Self.path("tiny.safetensors"))
        var rng = SplitMix64(seed: 41)
        let frame = try Tensor(shape: [3, 80, 96], storage: (0..<(3 * 80 * 96)).map { _ in 2 * rng.nextFloat() })
        var serial = try vit.makeState(height: 80, width: 96)
        try vit.encode(frame, state: &serial, context: .serial)
        var split = try vit.makeState(height: 80, width: 96)
        let context = ComputeContext(threads: 3)
        try vit.encode(frame, state: &split, context: context)
        let depth = vit.config.depth, heads = vit.config.heads
        #expect(context.rowChunks(m: 121) == 3)
        #expect(context.splitGEMMs == 1 + 4 * depth, "patch embedding + qkv, proj, fc1, fc2 per block")
        #expect(context.splitRowChunks == 3 * (1 + 4 * depth))
        #expect(context.attentionTasks == depth * heads * 3, "(head, query block) tasks")
        let scale = serial.tokens.storage.map { abs($0) }.max() ?? 0
        let worst = zip(split.tokens.storage, serial.tokens.storage).map { abs($0 - $1) }.max() ?? 1
        print("pool split vs serial: max abs difference \(worst) at token scale \(scale)")
        #expect(split.tokens.shape == [121, 64] && scale > 0.1 && worst <= 1e-5 * scale)
    }

    @Test func configComesFromMetadata() throws {
        let (vit, _) = try VisionTransformer.load(path: Self.path("tiny.safetensors"))
        #expect(vit.config.imageSize == [32, 48])
        #expect(vit.config.dim == 64 && vit.config.depth == 2 && vit.config.heads == 4 && vit.config.patchSize == 8)
        #expect(vit.config.mlpDim == 256)
        #expect(vit.parameterCount == 64 + 25 * 64 + 64 * 192 + 64 + 2 * (4 * 64 + 192 * 64 + 192 + 64 * 64 + 64 + 256 * 64 + 256 + 64 * 256 + 64) + 128)
    }

    @Test func encodingTheSameFrameTwiceGivesIdenticalTokensAndReusesBuffers() throws {
        let vit = try VisionTransformer.random(config: ModelConfig(imageSize: [16, 24], patchSize: 8, dim: 32, depth: 2, heads: 2))
        var state = try vit.makeState(height: 16, width: 24)
        var rng = SplitMix64(seed: 3)
        let frame = try Tensor(shape: [3, 16, 24], storage: (0..<(3 * 16 * 24)).map { _ in rng.nextFloat() })
        try vit.encode(frame, state: &state)
        let first = state.tokens
        try vit.encode(frame, state: &state)
        #expect(state.tokens == first)
        #expect(state.tokens.shape == [7, 32])
    }

    @Test func steadyStateEncodingReusesEveryBuffer() throws {
        let vit = try VisionTransformer.random(config: ModelConfig(imageSize: [16, 16], patchSize: 8, dim: 32, depth: 2, heads: 2))
        var state = try vit.makeState(height: 16, width: 16)
        let frame = Tensor(shape: [3, 16, 16], repeating: 0.5)
        try vit.encode(frame, state: &state)
        func addresses(_ s: EncoderState) -> [Int] {
            [s.tokens, s.x, s.y, s.qkv, s.attn, s.scores, s.hidden, s.patches, s.base].map(\.storageAddress)
        }
        let first = addresses(state)
        for _ in 0..<3 { try vit.encode(frame, state: &state) }
        #expect(addresses(state) == first)
    }

    @Test func rejectsFrameOfWrongSizeAndGridsNotMultipleOfPatch() throws {
        let vit = try VisionTransformer.random(config: ModelConfig(imageSize: [16, 16], patchSize: 8, dim: 16, depth: 1, heads: 2))
        var state = try vit.makeState(height: 16, width: 16)
        #expect(throws: WeightsError.self) { try vit.encode(Tensor(shape: [3, 8, 16]), state: &state) }
        #expect(throws: WeightsError.self) { try vit.makeState(height: 12, width: 16) }
    }

    @Test func refusesInputWhoseScratchWouldExceedTheLimitInsteadOfAllocating() throws {
        let vit = try VisionTransformer.random(config: ModelConfig(imageSize: [16, 16], patchSize: 2, dim: 16, depth: 1, heads: 2))
        // 8192² at patch 2: 16.8 M tokens, attention scores alone 2·n² floats — far past 8 GiB.
        #expect(throws: WeightsError.self) { try vit.makeState(height: 8192, width: 8192) }
        let exact = vit.gemmShapes(height: 16384, width: 16384).reduce(0.0) { $0 + 2 * Double($1.m) * Double($1.n) * Double($1.k) * Double($1.count) }
        #expect(abs(Double(vit.flopsPerFrame(height: 16384, width: 16384)) - exact) / exact < 1e-12)
    }

    @Test func normalisationMapsBytesToMeanStdScaledCHW() throws {
        let norm = try ImageNormalization(mean: [0.5, 0.25, 0], std: [0.5, 0.25, 1])
        let rgb: [UInt8] = [255, 0, 51, 0, 255, 102]  // 2x1 image
        var out = Tensor(shape: [0])
        try norm.apply(rgb: rgb, width: 2, height: 1, into: &out)
        #expect(out.shape == [3, 1, 2])
        let want: [Float] = [1, -1, -1, 3, 0.2, 0.4]
        for (a, b) in zip(out.storage, want) { #expect(abs(a - b) < 1e-6) }
        #expect(throws: WeightsError.self) { try norm.apply(rgb: [1, 2], width: 2, height: 1, into: &out) }
        #expect(throws: WeightsError.self) { try ImageNormalization(mean: [0, 0, 0], std: [1, 0, 1]) }
    }

    @Test func normalisationReadsPaddedRowsAndReusesTheTensor() throws {
        // Frames from the decoder have rows padded past 3·width; the padding must never be read.
        let norm = try ImageNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        let w = 5, h = 3, stride = 3 * w + 7
        var rgb = [UInt8](repeating: 0, count: stride * h)
        for i in rgb.indices { rgb[i] = i % stride < 3 * w ? UInt8((i * 37) % 256) : 255 }
        var out = Tensor(shape: [3, h + 4, w + 4])  // larger than needed: resized, not reallocated
        try norm.apply(rgb: rgb, width: w, height: h, stride: stride, into: &out)
        #expect(out.shape == [3, h, w])
        for c in 0..<3 {
            for y in 0..<h {
                for x in 0..<w {
                    let want = (Float(rgb[y * stride + 3 * x + c]) / 255 - norm.mean[c]) / norm.std[c]
                    #expect(abs(out.storage[(c * h + y) * w + x] - want) < 1e-5)
                }
            }
        }
        #expect(throws: WeightsError.self) { try norm.apply(rgb: rgb, width: w, height: h, stride: 3 * w - 1, into: &out) }
    }
}
