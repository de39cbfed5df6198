import Foundation
import Testing
@testable import KVVision

/// int8 and bf16 GEMM kernels (`PackedLinear`) against an exact double reference, on random and
/// DeiT-Tiny shapes, on every instruction-set path this CPU runs (others are skipped with a
/// printed line); the encoder at int8/bf16 against f32.
@Suite struct QuantizedGEMMTests {
    /// Values with a bell-shaped spread (sum of three uniforms), as trained weights have.
    static func bell(_ shape: [Int], _ rng: inout SplitMix64, scale: Float, offset: Float = 0) -> Tensor {
        try! Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in
            (rng.nextFloat() + rng.nextFloat() + rng.nextFloat()) / 3 * scale + offset
        })
    }

    /// Kernel sets this CPU runs for `precision`; prints one line for each it skips.
    static func paths(_ precision: Precision) -> [KernelISA] {
        KernelISA.allCases.filter { isa in
            guard precision == .int8 ? isa.hasInt8 : isa.hasBF16 else { return false }
            if !isa.supported { print("SKIPPED \(precision.rawValue) \(isa.rawValue) kernel: this CPU cannot run it") }
            return isa.supported
        }
    }

    struct Errors { var relativeRMS: Double; var worstOverBound: Double }

    /// `c = a·wᵀ + bias` through `packed` vs the double product; the relative RMS error of
    /// (c − bias) and the worst ratio of |error| to the element's provable bound.
    static func check(_ packed: PackedLinear, a: Tensor, w: Tensor, bias: Tensor,
                      bound: (_ i: Int, _ j: Int) -> Double) throws -> (Errors, Tensor) {
        var c = Tensor(shape: [0]), scratch = PackedLinear.Scratch()
        try packed.apply(a, bias: bias, into: &c, scratch: &scratch, context: ComputeContext(threads: 2))
        let m = a.shape[0], k = a.shape[1], n = w.shape[0]
        var se = 0.0, sr = 0.0, worst = 0.0
        a.storage.withUnsafeBufferPointer { ap in
            w.storage.withUnsafeBufferPointer { wp in
                for i in 0..<m {
                    for j in 0..<n {
                        var exact = 0.0
                        for p in 0..<k { exact += Double(ap[i * k + p]) * Double(wp[j * k + p]) }
                        let e = Double(c.storage[i * n + j]) - Double(bias.storage[j]) - exact
                        se += e * e
                        sr += exact * exact
                        worst = max(worst, abs(e) / bound(i, j))
                    }
                }
            }
        }
        return (Errors(relativeRMS: (se / sr).squareRoot(), worstOverBound: worst), c)
    }

    /// Per element: |a·w − â·ŵ| ≤ Σ_k (s_a/2 · |w_k| + (|a_k| + s_a/2) · s_w/2), with s_a the row's
    /// u8 step (its range / 255) and s_w the channel's int8 step (max |w| / qmax); 1 % slack and
    /// an f32 accumulation term.
    static func int8Bound(a: Tensor, w: Tensor, qmax: Double) -> (Int, Int) -> Double {
        let m = a.shape[0], k = a.shape[1], n = w.shape[0]
        let sa = (0..<m).map { i in
            let row = a.storage[(i * k)..<((i + 1) * k)]
            return (Double(max(row.max()!, 0)) - Double(min(row.min()!, 0))) / 255
        }
        let sw = (0..<n).map { j in Double(w.storage[(j * k)..<((j + 1) * k)].map { abs($0) }.max()!) / qmax }
        let absW = (0..<n).map { j in w.storage[(j * k)..<((j + 1) * k)].reduce(0.0) { $0 + Double(abs($1)) } }
        let absA = (0..<m).map { i in a.storage[(i * k)..<((i + 1) * k)].reduce(0.0) { $0 + Double(abs($1)) } }
        return { i, j in
            let t = sa[i] / 2 * absW[j] + (absA[i] + Double(k) * sa[i] / 2) * sw[j] / 2
            return 1.01 * t + 1e-6 * absA[i] * sw[j] * qmax + 1e-7
        }
    }

    /// bf16 rounding of both operands (unit roundoff 2⁻⁸ each) plus f32 accumulation over k.
    static func bf16Bound(a: Tensor, w: Tensor) -> (Int, Int) -> Double {
        let k = a.shape[1]
        return { i, j in
            var s = 0.0
            for p in 0..<k { s += abs(Double(a.storage[i * k + p]) * Double(w.storage[j * k + p])) }
            let relative: Double = 2 * 0x1p-8 + 0x1p-16 + Double(k + 2) * 0x1p-24
            return s * relative + 1e-7
        }
    }

    static let randomShapes = [(1, 1, 1), (5, 7, 3), (33, 19, 13), (70, 40, 100), (4, 16, 4), (67, 33, 130)]
    /// The block Linear GEMMs of DeiT-Tiny at 224² (m = 197 tokens): qkv, proj, fc1, fc2.
    static let deitTinyShapes = [(197, 576, 192), (197, 192, 192), (197, 768, 192), (197, 192, 768)]

    @Test(arguments: randomShapes + deitTinyShapes)
    func int8GEMMIsWithinItsErrorBoundOnEveryPathAndPathsAgreeBitForBit(m: Int, n: Int, k: Int) throws {
        var rng = SplitMix64(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        let a = Self.bell([m, k], &rng, scale: 3, offset: 0.2), w = Self.bell([n, k], &rng, scale: 0.1)
        let bias = Self.bell([n], &rng, scale: 1)
        var outputs: [KernelISA: (weightMax: Int32, c: Tensor)] = [:]
        for isa in Self.paths(.int8) {
            let packed = try PackedLinear(weight: w, precision: .int8, isa: isa)
            let (e, c) = try Self.check(packed, a: a, w: w, bias: bias, bound: Self.int8Bound(a: a, w: w, qmax: Double(packed.weightMax)))
            print("int8 \(isa.rawValue) \(m)x\(n)x\(k): relative RMS \(e.relativeRMS), worst error / bound \(e.worstOverBound)")
            #expect(e.worstOverBound <= 1, "\(isa.rawValue): an element is outside its provable bound")
            // Stated bounds: 7-bit weights (AVX2) ≤ 2 %, 8-bit ≤ 1 % relative RMS.
            #expect(e.relativeRMS <= (packed.weightMax == 63 ? 0.02 : 0.01), "\(isa.rawValue)")
            outputs[isa] = (packed.weightMax, c)
            // Every other path runs the same packing bit for bit (the reference runs all of them).
            for other in Self.paths(.int8) where other != isa && other.int8WeightMax >= packed.weightMax {
                var c2 = Tensor(shape: [0]), scratch = PackedLinear.Scratch()
                try packed.running(on: other).apply(a, bias: bias, into: &c2, scratch: &scratch)
                #expect(c2 == c, "\(isa.rawValue) packing: \(other.rawValue) differs")
            }
        }
        #expect(outputs[.reference] != nil)
    }

    @Test(arguments: randomShapes + deitTinyShapes)
    func bf16GEMMIsWithinItsErrorBoundOnEveryPath(m: Int, n: Int, k: Int) throws {
        var rng = SplitMix64(seed: UInt64(m * 7919 + n * 31 + k))
        let a = Self.bell([m, k], &rng, scale: 3, offset: 0.2), w = Self.bell([n, k], &rng, scale: 0.1)
        let bias = Self.bell([n], &rng, scale: 1)
        for isa in Self.paths(.bf16) {
            let packed = try PackedLinear(weight: w, precision: .bf16, isa: isa)
            let (e, _) = try Self.check(packed, a: a, w: w, bias: bias, bound: Self.bf16Bound(a: a, w: w))
            print("bf16 \(isa.rawValue) \(m)x\(n)x\(k): relative RMS \(e.relativeRMS), worst error / bound \(e.worstOverBound)")
            #expect(e.worstOverBound <= 1 && e.relativeRMS <= 0.004, "\(isa.rawValue)")
        }
    }

    @Test func accumulateAddsOntoCAndRowSplitMatchesOneThread() throws {
        var rng = SplitMix64(seed: 5)
        let a = Self.bell([130, 48], &rng, scale: 2), w = Self.bell([40, 48], &rng, scale: 0.2), bias = Self.bell([40], &rng, scale: 1)
        for precision in [Precision.int8, .bf16] {
            let packed = try PackedLinear(weight: w, precision: precision)
            var one = Tensor(shape: [0]), split = Tensor(shape: [0]), scratch = PackedLinear.Scratch()
            try packed.apply(a, bias: bias, into: &one, scratch: &scratch)
            let context = ComputeContext(threads: 3)
            try packed.apply(a, bias: bias, into: &split, scratch: &scratch, context: context)
            #expect(context.splitGEMMs == 1 && context.splitRowChunks == 3)
            #expect(split == one, "\(precision): row split changed the result")
            var acc = Self.bell([130, 40], &rng, scale: 1)
            let before = acc
            try packed.apply(a, bias: bias, into: &acc, accumulate: true, scratch: &scratch)
            #expect(zip(acc.storage, zip(before.storage, one.storage)).allSatisfy { $0 == $1.0 + $1.1 })
        }
    }

    /// `skippingRows` (the det head's up-projection skips the class token) gives exactly the rows
    /// of the same product on the remaining rows, and refuses a skip past the end or on rank 3.
    @Test func skippingRowsEqualsTheProductOfTheRemainingRows() throws {
        var rng = SplitMix64(seed: 9)
        let a = Self.bell([71, 40], &rng, scale: 2), w = Self.bell([24, 40], &rng, scale: 0.3), bias = Self.bell([24], &rng, scale: 1)
        let rest = try Tensor(shape: [70, 40], storage: Array(a.storage[40...]))
        for precision in [Precision.int8, .bf16] {
            let packed = try PackedLinear(weight: w, precision: precision)
            var skipped = Tensor(shape: [0]), copied = Tensor(shape: [0]), scratch = PackedLinear.Scratch()
            try packed.apply(a, bias: bias, into: &skipped, skippingRows: 1, scratch: &scratch, context: ComputeContext(threads: 2))
            try packed.apply(rest, bias: bias, into: &copied, scratch: &scratch)
            #expect(skipped.shape == [70, 24])
            #expect(skipped == copied, "\(precision): skipping a row changed the other rows")
            #expect(throws: TensorError.self) { try packed.apply(a, into: &skipped, skippingRows: 72, scratch: &scratch) }
            #expect(throws: TensorError.self) {
                try packed.apply(Tensor(shape: [2, 71, 40]), into: &skipped, skippingRows: 1, scratch: &scratch)
            }
        }
    }

    @Test func zeroAndNonFiniteRowsAndChannelsGiveBiasOrZeroNotGarbage() throws {
        var w = Tensor(shape: [3, 8]), a = Tensor(shape: [2, 8])
        for j in 0..<8 { w.storage[8 + j] = Float(j) - 3.5 }  // channel 0 and 2 all zero
        for j in 0..<8 { a.storage[8 + j] = 1 }               // row 0 all zero
        let bias = try Tensor(shape: [3], storage: [1, 2, 3])
        for isa in Self.paths(.int8) {
            var c = Tensor(shape: [0]), scratch = PackedLinear.Scratch()
            try PackedLinear(weight: w, precision: .int8, isa: isa).apply(a, bias: bias, into: &c, scratch: &scratch)
            #expect(Array(c.storage[0..<3]) == [1, 2, 3])
            #expect(c.storage[3] == 1 && c.storage[5] == 3 && abs(c.storage[4] - 2) < 1e-6)  // Σ(j − 3.5) = 0
        }
    }

    @Test func isaCapFromTheEnvironmentIsParsedAndChecked() throws {
        #expect(try KernelISA.cap(environment: [:]) == nil)
        #expect(try KernelISA.cap(environment: ["KVVISION_ISA": "reference"]) == .reference)
        #expect(KernelISA.int8(cap: .reference) == .reference)
        #expect(KernelISA.bf16(cap: .avx2) == .reference)
        #expect(throws: TensorError.self) { try KernelISA.cap(environment: ["KVVISION_ISA": "sse9"]) }
        for isa in KernelISA.allCases where !isa.supported {
            #expect(throws: TensorError.self) { try KernelISA.cap(environment: ["KVVISION_ISA": isa.rawValue]) }
        }
        if KernelISA.avx2.supported {
            #expect(KernelISA.int8(cap: .avx2) == .avx2)
            #expect(KernelISA.int8(cap: nil) >= .avx2)
        }
    }
}

/// The encoder at int8 and bf16 against itself at f32 (same weights).
@Suite struct ReducedPrecisionEncoderTests {
    static func relativeRMS(_ x: Tensor, _ ref: Tensor) -> Double {
        var se = 0.0, sr = 0.0
        for (a, b) in zip(x.storage, ref.storage) {
            se += Double(a - b) * Double(a - b)
            sr += Double(b) * Double(b)
        }
        return (se / sr).squareRoot()
    }

    static func tokens(_ vit: VisionTransformer, _ frame: Tensor) throws -> Tensor {
        var state = try vit.makeState(height: frame.shape[1], width: frame.shape[2])
        try vit.encode(frame, state: &state, context: ComputeContext(threads: 2))
        return state.tokens
    }

    /// DeiT-Tiny shape (224², patch 16, D 192, 12 blocks, 3 heads; seeded random weights) and the
    /// timm fixture (tiny.safetensors, 2 blocks). Stated bounds on token relative RMS error vs
    /// f32: int8 ≤ 3 % with 7-bit weights (AVX2), ≤ 2 % with 8-bit; bf16 ≤ 1 %.
    @Test(arguments: ["deit-tiny", "fixture"])
    func tokensAtInt8AndBF16StayWithinTheStatedBoundOfF32(model: String) throws {
        let load: (Precision, KernelISA?) throws -> VisionTransformer
        let h: Int, w: Int
        if model == "deit-tiny" {
            let config = ModelConfig.preset("deit-tiny")!
            load = { try VisionTransformer.random(config: config, seed: 3, precision: $0, kernels: $1) }
            (h, w) = (224, 224)
        } else {
            let path = TestFiles.fixture("vit/tiny.safetensors").path
            load = { try VisionTransformer.load(path: path, precision: $0, kernels: $1).model }
            (h, w) = (32, 48)
        }
        var rng = SplitMix64(seed: 17)
        let frame = try Tensor(shape: [3, h, w], storage: (0..<(3 * h * w)).map { _ in 2 * rng.nextFloat() })
        let f32 = try load(.f32, nil)
        #expect(f32.precision == .f32 && f32.linearPrecisions == [.f32: 4 * f32.config.depth])
        let reference = try Self.tokens(f32, frame)
        for precision in [Precision.int8, .bf16] {
            for isa in QuantizedGEMMTests.paths(precision) {
                let vit = try load(precision, isa)
                #expect(vit.linearPrecisions == [precision: 4 * vit.config.depth])
                #expect(vit.linearWeightBytes < f32.linearWeightBytes / (precision == .int8 ? 3 : 1))
                let e = Self.relativeRMS(try Self.tokens(vit, frame), reference)
                print("encoder \(model) \(precision.rawValue) \(isa.rawValue): token relative RMS error vs f32 \(e)")
                let bound = precision == .bf16 ? 0.01 : (isa.int8WeightMax == 63 ? 0.03 : 0.02)
                #expect(e <= bound, "\(model) \(precision.rawValue) \(isa.rawValue)")
            }
        }
    }

    @Test func keepF32NamesLayersThatStayF32AndTheConfigDefaultApplies() throws {
        var config = ModelConfig(imageSize: [16, 16], patchSize: 8, dim: 32, depth: 2, heads: 2)
        config.precision = ModelConfig.PrecisionDefaults(default: .int8, keepF32: ["patch_embed", "blocks.1", "blocks.0.mlp.fc2"])
        let vit = try VisionTransformer.random(config: config)
        #expect(vit.precision == .int8)
        #expect(vit.linearPrecisions == [.int8: 3, .f32: 5])
        #expect(try VisionTransformer.random(config: config, precision: .f32).linearPrecisions == [.f32: 8])
        let json = try JSONEncoder().encode(config)
        let back = try JSONDecoder().decode(ModelConfig.self, from: json)
        #expect(back.precision == config.precision)
        let plain = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"image_size":[16,16],"patch_size":8,"dim":32,"depth":1,"heads":2,"precision":{"default":"int8"}}"#.utf8))
        #expect(plain.precision?.keepF32 == ["patch_embed", "head"])
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"image_size":[16,16],"patch_size":8,"dim":32,"depth":1,"heads":2,"precision":{"default":"int4"}}"#.utf8))
        }
    }
}
