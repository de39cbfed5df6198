import Foundation
import Testing
@testable import KVVision

/// `Int8PixelConv` (the det stem's first conv, int8 from RGB bytes) against the f32 `Conv2D` on the
/// normalised image it replaces. Same stated bounds as `Int8Conv2D` (relative RMS ≤ 2 %, worst
/// element ≤ 5 % of the largest magnitude); the AVX-512 kernel and the reference agree bit for bit,
/// at any thread count, on even and odd sizes (the edge cases of the folded normalisation) and
/// with padded rows.
@Suite struct OpsInt8PixelConvTests {
    /// ImageNet's normalisation, as the shipped model's config has it.
    static let norm = try! ImageNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// A frame-like byte image: smooth gradients plus noise, `rowBytes` per row (padding bytes 0xEE).
    static func rgb(width: Int, height: Int, rowBytes: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var bytes = [UInt8](repeating: 0xEE, count: rowBytes * height)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let base = (x * 7 + y * 3 + c * 50) % 200, noise = Int(rng.next() % 56)
                    bytes[y * rowBytes + 3 * x + c] = UInt8(base + noise)
                }
            }
        }
        return bytes
    }

    /// The f32 reference: normalise, then the f32 conv with ReLU.
    static func f32(_ conv: Conv2D, _ rgb: [UInt8], width: Int, height: Int, rowBytes: Int) throws -> Tensor {
        var x = Tensor(shape: [3, height, width]), out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        try norm.apply(rgb: rgb, width: width, height: height, stride: rowBytes, into: &x)
        try conv.forward(x, into: &out, scratch: &scratch, relu: true)
        return out
    }

    static let sizes: [(w: Int, h: Int, pad: Int)] = [(320, 240, 0), (37, 7, 5), (38, 8, 0), (1, 1, 0), (33, 5, 1), (100, 17, 3)]

    @Test(arguments: [8, 16, 24])
    func withinItsBoundOfTheF32ConvOnTheNormalisedImage(cout: Int) throws {
        let conv = try OpsConvTests.conv(cin: 3, cout: cout, k: 3, seed: 700 + cout, bias: true, stride: 2, pad: 1)
        let q = try #require(Int8PixelConv(conv, scale: Self.norm.scale, offset: Self.norm.offset, requireKernel: false))
        for (w, h, pad) in Self.sizes {
            let rowBytes = 3 * w + pad
            let rgb = Self.rgb(width: w, height: h, rowBytes: rowBytes, seed: UInt64(w * h))
            let ref = try Self.f32(conv, rgb, width: w, height: h, rowBytes: rowBytes)
            var out = Tensor(shape: [0])
            let range = try q.forward(rgb: rgb, width: w, height: h, rowBytes: rowBytes, into: &out, reference: true)
            #expect(out.shape == ref.shape, "\(w)x\(h)")
            let diff = zip(out.storage, ref.storage).map { Double($0 - $1) }
            let rms = (ref.storage.reduce(0) { $0 + Double($1 * $1) } / Double(ref.count)).squareRoot()
            let relRMS = (diff.reduce(0) { $0 + $1 * $1 } / Double(diff.count)).squareRoot() / max(rms, 1e-12)
            let worst = diff.map(abs).max() ?? 0
            print("int8 pixel conv \(cout) \(w)x\(h): relative RMS \(relRMS), worst / max \(worst / Double(OpFixtures.maxAbs(ref)))")
            #expect(relRMS <= 0.02, "\(w)x\(h): relative RMS \(relRMS)")
            #expect(worst <= 0.05 * Double(OpFixtures.maxAbs(ref)), "\(w)x\(h): worst \(worst)")
            #expect(out.storage.allSatisfy { $0 >= 0 })
            #expect(range.lower == 0 && range.upper == out.storage.max()!, "\(w)x\(h): the returned range is what was written")
        }
    }

    @Test func theKernelAndTheReferenceGiveTheSameBitsAtAnyThreadCount() throws {
        let conv = try OpsConvTests.conv(cin: 3, cout: 16, k: 3, seed: 711, bias: true, stride: 2, pad: 1)
        guard let fast = Int8PixelConv(conv, scale: Self.norm.scale, offset: Self.norm.offset) else {
            print("SKIPPED: int8 pixel conv kernel (this CPU has no AVX-512 VBMI + VNNI)")
            return
        }
        for (w, h, pad) in Self.sizes {
            let rowBytes = 3 * w + pad
            let rgb = Self.rgb(width: w, height: h, rowBytes: rowBytes, seed: UInt64(31 * w + h))
            var ref = Tensor(shape: [0]), one = Tensor(shape: [0]), three = Tensor(shape: [0])
            let r0 = try fast.forward(rgb: rgb, width: w, height: h, rowBytes: rowBytes, into: &ref, reference: true)
            let r1 = try fast.forward(rgb: rgb, width: w, height: h, rowBytes: rowBytes, into: &one)
            let r3 = try fast.forward(rgb: rgb, width: w, height: h, rowBytes: rowBytes, into: &three, context: ComputeContext(threads: 3))
            #expect(one == ref && three == ref, "\(w)x\(h)")
            #expect(r1 == r0 && r3 == r0, "\(w)x\(h)")
        }
    }

    @Test func refusesOtherConvsAndShortInput() throws {
        let s = Self.norm.scale, o = Self.norm.offset
        #expect(Int8PixelConv(try OpsConvTests.conv(cin: 3, cout: 12, k: 3, seed: 1, bias: true, stride: 2, pad: 1), scale: s, offset: o,
                              requireKernel: false) == nil, "outputs not a multiple of 8")
        #expect(Int8PixelConv(try OpsConvTests.conv(cin: 4, cout: 8, k: 3, seed: 1, bias: true, stride: 2, pad: 1), scale: s, offset: o,
                              requireKernel: false) == nil, "4 inputs")
        #expect(Int8PixelConv(try OpsConvTests.conv(cin: 3, cout: 8, k: 3, seed: 1, bias: true, stride: 1, pad: 1), scale: s, offset: o,
                              requireKernel: false) == nil, "stride 1")
        let q = try #require(Int8PixelConv(try OpsConvTests.conv(cin: 3, cout: 8, k: 3, seed: 1, bias: false, stride: 2, pad: 1),
                                           scale: s, offset: o, requireKernel: false))
        var out = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try q.forward(rgb: [UInt8](repeating: 0, count: 3 * 10 * 4 - 1), width: 10, height: 4, into: &out) }
    }
}
