import Foundation
import Testing
@testable import KVVision

/// `Int8Conv2D` against the f32 `Conv2D` it is made from (itself checked against PyTorch in
/// OpsConvTests), on the det head's shapes and on odd ones.
///
/// Stated bounds (per-tensor u8 activations, per-channel weights of 7 bits on AVX2 or 8 on the
/// reference and VNNI paths): relative RMS error ≤ 2 % of the f32 output's RMS, worst element
/// ≤ 5 % of the f32 output's largest magnitude. The result is the same bit for bit at any thread
/// count, and the zero padding is exact.
@Suite struct OpsInt8ConvTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String, cin: Int, cout: Int, k: Int, stride: Int, pad: Int, h: Int, w: Int, relu: Bool
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "stem1_24x60x80_s2", cin: 24, cout: 48, k: 3, stride: 2, pad: 1, h: 60, w: 80, relu: true),
        Case(name: "neck0_128x30x40", cin: 128, cout: 96, k: 3, stride: 1, pad: 1, h: 30, w: 40, relu: true),
        Case(name: "neck1_96x30x40_linear", cin: 96, cout: 96, k: 3, stride: 1, pad: 1, h: 30, w: 40, relu: false),
        Case(name: "odd_5x9x13_pad2", cin: 5, cout: 7, k: 3, stride: 1, pad: 2, h: 9, w: 13, relu: false),
        Case(name: "odd_6x7x7_s2_nopad", cin: 6, cout: 20, k: 3, stride: 2, pad: 0, h: 7, w: 7, relu: false),
        Case(name: "pointwise_17x5x3", cin: 17, cout: 3, k: 1, stride: 1, pad: 0, h: 5, w: 3, relu: false),
        // 63 positions, 20 channels: the implicit kernel's single-row tail and partial channel panel.
        Case(name: "tails_8x7x9_c20", cin: 8, cout: 20, k: 3, stride: 1, pad: 1, h: 7, w: 9, relu: true),
    ]

    /// A post-ReLU-like input (most values ≥ 0, some negative, as the joined det map has).
    static func input(_ c: Case, seed: Int) throws -> Tensor {
        var x = try OpFixtures.tensor([c.cin, c.h, c.w], seed: seed, scale: 2)
        for i in 0..<x.count { x.storage[i] = x.storage[i] > -0.5 ? x.storage[i] + 0.5 : x.storage[i] * 0.2 }
        return x
    }

    static func paths() -> [KernelISA] { KernelISA.allCases.filter { $0.hasInt8 && $0.supported } }

    @Test(arguments: cases) func withinItsBoundOfTheF32LayerOnEveryPath(_ c: Case) throws {
        let conv = try OpsConvTests.conv(cin: c.cin, cout: c.cout, k: c.k, seed: 300 + c.cin, bias: true, stride: c.stride, pad: c.pad)
        let x = try Self.input(c, seed: 400 + c.cout)
        var ref = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        try conv.forward(x, into: &ref, scratch: &scratch, relu: c.relu)
        let rms = (ref.storage.reduce(0) { $0 + Double($1 * $1) } / Double(ref.count)).squareRoot()
        for isa in Self.paths() {
            let q = try Int8Conv2D(conv, isa: isa)
            var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
            try q.forward(x, into: &out, scratch: &s, relu: c.relu)
            #expect(out.shape == ref.shape)
            let diff = zip(out.storage, ref.storage).map { Double($0 - $1) }
            let relRMS = (diff.reduce(0) { $0 + $1 * $1 } / Double(diff.count)).squareRoot() / max(rms, 1e-12)
            let worst = diff.map(abs).max() ?? 0
            print("int8 conv \(c.name) \(isa.rawValue): relative RMS \(relRMS), worst / max \(worst / Double(OpFixtures.maxAbs(ref)))")
            #expect(relRMS <= 0.02, "\(c.name) \(isa.rawValue): relative RMS \(relRMS)")
            #expect(worst <= 0.05 * Double(OpFixtures.maxAbs(ref)), "\(c.name) \(isa.rawValue): worst \(worst)")
            if c.relu { #expect(out.storage.allSatisfy { $0 >= 0 }) }
        }
    }

    /// `forwardJoined` (the det head's `[pixel_shuffle(tokens); stem]` quantised straight into the
    /// conv's input image) gives the bits of `forward` on the joined f32 map, on every conv kernel
    /// the CPU has and at 1 and 2 threads (two row chunks for the det head's 30 rows): with the det
    /// head's shapes (the vector token path where the CPU has AVX-512: upscale 2, 32 token
    /// channels) and with odd ones (the portable token path; a stem part not a multiple of 16).
    @Test(arguments: [(2, 32, 32, 15, 20), (2, 8, 12, 3, 5), (3, 4, 16, 2, 3)])
    func joinedInputGivesTheBitsOfTheJoinedMap(_ r: Int, _ cu: Int, _ cs: Int, _ gh: Int, _ gw: Int) throws {
        let h = gh * r, w = gw * r
        let conv = try OpsConvTests.conv(cin: cu + cs, cout: 16, k: 3, seed: 700 + cu, bias: true, stride: 1, pad: 1)
        // Tokens with negatives (a Linear's output), a post-ReLU stem map.
        let tokens = try OpFixtures.tensor([gh * gw, cu * r * r], seed: 710 + cs, scale: 2)
        var stem = try OpFixtures.tensor([cs, h, w], seed: 720 + cs, scale: 3)
        for i in 0..<stem.count { stem.storage[i] = max(stem.storage[i], 0) }
        var joined = Tensor(shape: [0])
        try PixelShuffle.fromTokens(tokens, height: gh, width: gw, upscale: r, into: &joined, channels: cu + cs)
        for i in 0..<stem.count { joined.storage[cu * h * w + i] = stem.storage[i] }
        let range = ValueRange(of: tokens).union(ValueRange(of: stem))
        #expect(range == ValueRange(of: joined))
        for isa in Self.paths() {
            let q = try Int8Conv2D(conv, isa: isa)
            var expected = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
            let expectedRange = try q.forward(joined, into: &expected, scratch: &s, relu: true)
            for threads in [1, 2] {
                var out = Tensor(shape: [0]), s2 = Int8Conv2D.Scratch()
                let got = try q.forwardJoined(tokens: tokens, gridHeight: gh, gridWidth: gw, upscale: r, stem: stem, inputRange: range,
                                              into: &out, scratch: &s2, relu: true, context: ComputeContext(threads: threads))
                #expect(out == expected && got == expectedRange, "\(isa.rawValue), \(threads) thread(s)")
            }
        }
        var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        #expect(throws: TensorError.self) {
            try Int8Conv2D(conv).forwardJoined(tokens: tokens, gridHeight: gh, gridWidth: gw + 1, upscale: r, stem: stem, inputRange: range, into: &out, scratch: &s)
        }
    }

    @Test(arguments: cases) func sameBitsAtEveryThreadCount(_ c: Case) throws {
        let conv = try OpsConvTests.conv(cin: c.cin, cout: c.cout, k: c.k, seed: 500 + c.cin, bias: true, stride: c.stride, pad: c.pad)
        let q = try Int8Conv2D(conv)
        let x = try Self.input(c, seed: 600)
        var one = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        try q.forward(x, into: &one, scratch: &s, relu: c.relu, context: ComputeContext(threads: 1))
        for threads in [2, 3] {
            var many = Tensor(shape: [0]), s2 = Int8Conv2D.Scratch()
            try q.forward(x, into: &many, scratch: &s2, relu: c.relu, context: ComputeContext(threads: threads))
            #expect(many == one, "\(c.name): \(threads) threads differ from 1")
        }
        // The scratch is reused across calls without changing results.
        var again = Tensor(shape: [0])
        try q.forward(x, into: &again, scratch: &s, relu: c.relu, context: ComputeContext(threads: 1))
        #expect(again == one)
    }

    /// The AVX-512 VNNI kernel reads window rows in place (implicit GEMM) and writes NCHW from its
    /// registers; the reference kernel unfolds rows and writes back through a block: both must give
    /// the same bits (same int32 sums, same epilogue), and the range each returns must equal the
    /// one computed from its output. Checked where the CPU has AVX-512 VNNI.
    @Test(arguments: cases) func implicitKernelMatchesTheUnfoldedOneBitForBit(_ c: Case) throws {
        guard KernelISA.avx512VNNI.supported else { return }
        let conv = try OpsConvTests.conv(cin: c.cin, cout: c.cout, k: c.k, seed: 1000 + c.cin, bias: true, stride: c.stride, pad: c.pad)
        let x = try Self.input(c, seed: 1100 + c.cout)
        var implicit = Tensor(shape: [0]), unfolded = Tensor(shape: [0])
        var s1 = Int8Conv2D.Scratch(), s2 = Int8Conv2D.Scratch()
        for threads in [1, 2] {
            let r1 = try Int8Conv2D(conv, isa: .avx512VNNI).forward(x, into: &implicit, scratch: &s1, relu: c.relu,
                                                                     context: ComputeContext(threads: threads))
            let r2 = try Int8Conv2D(conv, isa: .reference).forward(x, into: &unfolded, scratch: &s2, relu: c.relu,
                                                                    context: ComputeContext(threads: threads))
            #expect(implicit.storage.map(\.bitPattern) == unfolded.storage.map(\.bitPattern), "\(c.name), \(threads) threads")
            #expect(r1 == ValueRange(of: implicit) && r2 == ValueRange(of: unfolded), "\(c.name): \(r1) \(r2)")
        }
    }

    /// A range handed in by the producer (`inputRange`) gives the same bits as the one the layer
    /// computes itself; chaining two convs through the returned range does too.
    @Test func producerRangeGivesTheSameBits() throws {
        let c = Self.cases[0]
        let first = try Int8Conv2D(OpsConvTests.conv(cin: c.cin, cout: c.cout, k: 3, seed: 1200, bias: true, stride: 2, pad: 1))
        let second = try Int8Conv2D(OpsConvTests.conv(cin: c.cout, cout: 16, k: 3, seed: 1201, bias: true, stride: 1, pad: 1))
        let x = try Self.input(c, seed: 1202)
        var y = Tensor(shape: [0]), z1 = Tensor(shape: [0]), z2 = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        let range = try first.forward(x, into: &y, scratch: &s, relu: true, inputRange: ValueRange(of: x), context: ComputeContext(threads: 2))
        var y2 = Tensor(shape: [0])
        try first.forward(x, into: &y2, scratch: &s, relu: true, context: ComputeContext(threads: 2))
        #expect(y == y2)
        try second.forward(y, into: &z1, scratch: &s, inputRange: range, context: ComputeContext(threads: 2))
        try second.forward(y, into: &z2, scratch: &s, context: ComputeContext(threads: 2))
        #expect(z1.storage.map(\.bitPattern) == z2.storage.map(\.bitPattern))
    }

    /// The activation quantiser against its formula, `clamp(rint(x · (1 / scale)) + zero, 0, 255)` with
    /// NaN → 0, into the zero-point-padded NHWC image: channel counts that take the 4-channel
    /// vector path (8, 24) and one that does not (5), widths with and without a 16-pixel tail,
    /// values that saturate, ±Inf and NaN.
    @Test(arguments: [(8, 3, 37), (24, 2, 16), (5, 3, 21), (16, 3, 37), (48, 2, 33)])  // 16 and 48: the 16-channel path
    func imageQuantisationFollowsItsFormula(_ c: (channels: Int, h: Int, w: Int)) throws {
        var x = try OpFixtures.tensor([c.channels, c.h, c.w], seed: c.w, scale: 3)
        x.storage[1] = .nan; x.storage[c.w + 2] = .infinity; x.storage[2 * c.w] = -.infinity
        x.storage[3] = 1e9; x.storage[4] = -1e9
        let pad = 1, wp = c.w + 2 * pad, scale: Float = 0.023, zero: Int32 = 87
        var image = [UInt8](repeating: 1, count: (c.h + 2 * pad) * wp * c.channels)
        Int8Conv2D.quantize(x, padding: pad, scale: scale, zero: zero, into: &image, context: ComputeContext(threads: 2))
        for y in 0..<(c.h + 2 * pad) {
            for px in 0..<wp {
                for ch in 0..<c.channels {
                    let iy = y - pad, ix = px - pad
                    var want = UInt8(zero)
                    if iy >= 0, iy < c.h, ix >= 0, ix < c.w {
                        let v = (x.storage[(ch * c.h + iy) * c.w + ix] * (1 / scale)).rounded(.toNearestOrEven) + Float(zero)
                        want = !(v >= 0) ? 0 : (v > 255 ? 255 : UInt8(v))
                    }
                    let got = image[(y * wp + px) * c.channels + ch]
                    #expect(got == want, "c \(c.channels) y \(y) x \(px) ch \(ch): \(got) vs \(want)")
                    if got != want { return }
                }
            }
        }
    }

    /// Padding reads the zero point (exactly 0), not byte 0: with negative channels in the input
    /// the zero point is ≈ 83, so a border padded with byte 0 would be off by ≈ 0.6 × the weights'
    /// sum (≈ 0.35 here); the border and interior outputs must both match the f32 layer within 3 %
    /// of its largest magnitude (what 7-bit weights cost here: 1.4 %).
    @Test func zeroPaddingIsExact() throws {
        let conv = try OpsConvTests.conv(cin: 8, cout: 5, k: 3, seed: 700, bias: true, stride: 1, pad: 1)
        var x = Tensor(shape: [8, 6, 7])
        for c in 0..<8 { for i in 0..<42 { x.storage[c * 42 + i] = c % 2 == 0 ? 1.25 : -0.6 } }
        var ref = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        try conv.forward(x, into: &ref, scratch: &scratch)
        for isa in Self.paths() {
            var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
            try Int8Conv2D(conv, isa: isa).forward(x, into: &out, scratch: &s)
            let err = OpFixtures.maxAbsDiff(out, ref)
            #expect(err <= 0.03 * OpFixtures.maxAbs(ref, floor: 1), "\(isa.rawValue): max error \(err)")
        }
    }

    /// One scratch serves a large input, then a smaller one, then the large one again, with the
    /// results of fresh scratch each time.
    @Test func scratchIsReusedAcrossInputSizes() throws {
        let conv = try OpsConvTests.conv(cin: 16, cout: 24, k: 3, seed: 900, bias: true, stride: 2, pad: 1)
        let q = try Int8Conv2D(conv)
        var shared = Int8Conv2D.Scratch()
        for (h, w) in [(40, 52), (9, 11), (40, 52)] {
            let x = try Self.input(Case(name: "s", cin: 16, cout: 24, k: 3, stride: 2, pad: 1, h: h, w: w, relu: true), seed: h)
            var a = Tensor(shape: [0]), b = Tensor(shape: [0]), fresh = Int8Conv2D.Scratch()
            try q.forward(x, into: &a, scratch: &shared, relu: true, context: ComputeContext(threads: 2))
            try q.forward(x, into: &b, scratch: &fresh, relu: true, context: ComputeContext(threads: 2))
            #expect(a == b, "\(h)x\(w)")
        }
    }

    /// Non-finite inputs do not reach an undefined float → byte conversion: NaN and ±Inf give a
    /// finite-or-NaN output of the right shape (the scale falls back to 0: output = bias).
    @Test func nonFiniteInputGivesTheBias() throws {
        let conv = try OpsConvTests.conv(cin: 4, cout: 3, k: 3, seed: 950, bias: true, stride: 1, pad: 1)
        var x = try OpFixtures.tensor([4, 5, 5], seed: 951)
        x.storage[7] = .infinity
        var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        try Int8Conv2D(conv).forward(x, into: &out, scratch: &s)
        #expect(out.shape == [3, 5, 5])
        for j in 0..<3 { for r in 0..<25 { #expect(out.storage[j * 25 + r] == conv.bias!.storage[j]) } }
    }

    @Test func rejectsAWrongInput() throws {
        let conv = try OpsConvTests.conv(cin: 4, cout: 2, k: 3, seed: 800, bias: false, stride: 1, pad: 1)
        var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        #expect(throws: TensorError.self) {
            try Int8Conv2D(conv).forward(Tensor(shape: [3, 5, 5]), into: &out, scratch: &s)
        }
    }
}
