import Foundation
import Testing
@testable import KVVision

/// `Conv2D` against PyTorch `F.conv2d` fixtures (tools/reference/make_op_fixtures.py).
///
/// Tolerance: max |swift − torch| ≤ 1e-5 · max(1, max |torch|) (f32 sums in a different order).
@Suite struct OpsConvTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String, cin: Int, cout: Int, k: Int, stride: Int, pad: Int, h: Int, w: Int, bias: Bool, relu: Bool, seed: Int
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "k3s1", cin: 5, cout: 7, k: 3, stride: 1, pad: 1, h: 9, w: 13, bias: true, relu: false, seed: 10),
        Case(name: "k3s2_odd_relu", cin: 5, cout: 6, k: 3, stride: 2, pad: 1, h: 11, w: 9, bias: true, relu: true, seed: 20),
        Case(name: "k1s1", cin: 4, cout: 3, k: 1, stride: 1, pad: 0, h: 7, w: 5, bias: true, relu: false, seed: 30),
        Case(name: "k1s2_nobias", cin: 4, cout: 5, k: 1, stride: 2, pad: 0, h: 9, w: 7, bias: false, relu: false, seed: 40),
        Case(name: "k3s2_nopad", cin: 3, cout: 4, k: 3, stride: 2, pad: 0, h: 10, w: 8, bias: true, relu: false, seed: 50),
        Case(name: "k3s1_pad2", cin: 2, cout: 3, k: 3, stride: 1, pad: 2, h: 4, w: 6, bias: true, relu: false, seed: 60),
        Case(name: "k3s2_odd_pad1", cin: 6, cout: 4, k: 3, stride: 2, pad: 1, h: 7, w: 7, bias: true, relu: false, seed: 70),
        Case(name: "head_64x30x40", cin: 64, cout: 64, k: 3, stride: 1, pad: 1, h: 30, w: 40, bias: true, relu: false, seed: 80),
    ]

    static func conv(cin: Int, cout: Int, k: Int, seed: Int, bias: Bool, stride: Int, pad: Int) throws -> Conv2D {
        let w = try OpFixtures.tensor([cout, cin, k, k], seed: seed + 1, scale: 1 / Double(cin * k * k).squareRoot())
        let b = bias ? try OpFixtures.tensor([cout], seed: seed + 2, scale: 0.1) : nil
        return try Conv2D(weight: w, bias: b, stride: stride, padding: pad)
    }

    @Test func generatorMatchesTheFixtureScript() throws {
        let check = try OpFixtures.load("hash_check")
        #expect(check.storage == OpFixtures.hashvals(16, seed: 3))
    }

    @Test(arguments: cases) func matchesPyTorch(_ c: Case) throws {
        let conv = try Self.conv(cin: c.cin, cout: c.cout, k: c.k, seed: c.seed, bias: c.bias, stride: c.stride, pad: c.pad)
        let x = try OpFixtures.tensor([c.cin, c.h, c.w], seed: c.seed)
        let expected = try OpFixtures.load("conv_\(c.name)")
        var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        for context in [ComputeContext(threads: 1), ComputeContext(threads: 3)] {
            try conv.forward(x, into: &out, scratch: &scratch, relu: c.relu, context: context)
            #expect(out.shape == expected.shape)
            let err = OpFixtures.maxAbsDiff(out, expected)
            #expect(err <= 1e-5 * OpFixtures.maxAbs(expected, floor: 1), "\(c.name): max error \(err)")
        }
        let o = conv.outputSize(height: c.h, width: c.w)
        #expect([c.cout, o.height, o.width] == expected.shape)
    }

    /// The det stem: 3×240×320 → 24 → 48 → 64 channels, 3×3 stride-2 pad-1 convs each with ReLU;
    /// with 1 thread and with 3 (output positions split in column chunks: 19,200, 4,800 and 1,200
    /// columns over 3 threads, the last chunk shorter).
    @Test(arguments: [1, 3]) func stemChainMatchesPyTorch(threads: Int) throws {
        var x = try OpFixtures.tensor([3, 240, 320], seed: 100)
        var scratch = Tensor(shape: [0])
        let context = ComputeContext(threads: threads)
        for (i, (cin, cout)) in [(3, 24), (24, 48), (48, 64)].enumerated() {
            let conv = try Self.conv(cin: cin, cout: cout, k: 3, seed: 100 + 10 * (i + 1), bias: true, stride: 2, pad: 1)
            var y = Tensor(shape: [0])
            try conv.forward(x, into: &y, scratch: &scratch, relu: true, context: context)
            x = y
        }
        let expected = try OpFixtures.load("conv_stem")
        let err = OpFixtures.maxAbsDiff(x, expected)
        #expect(err <= 1e-5 * OpFixtures.maxAbs(expected, floor: 1), "stem max error \(err)")
    }

    /// The direct 3×3 kernel (stride 1 or 2, padding 1) against the convolution by its definition:
    /// odd sizes, widths whose 16-column blocks are partly or wholly inside the row, input channels
    /// over one and several tap chunks (`KVV_CONV3X3_CHUNK`, 32; 70 = 32 + 32 + 6), with and
    /// without bias and ReLU; bit-identical with 1, 2 and 3 threads (the rows split differently).
    /// Output channels not a multiple of 8 take the im2col path (the last cases), with the same
    /// result.
    @Test(arguments: [(1, 8, 7, 9, false, false, 2), (3, 24, 37, 70, true, true, 2), (4, 16, 8, 66, true, false, 2),
                      (2, 8, 3, 130, false, true, 2), (3, 16, 1, 1, true, false, 2), (16, 32, 24, 80, true, true, 2),
                      (40, 16, 9, 35, true, false, 2), (64, 48, 12, 40, true, true, 1), (70, 8, 5, 17, false, false, 1),
                      (1, 8, 1, 1, true, false, 1), (33, 16, 6, 16, true, true, 1), (3, 5, 9, 11, true, true, 2),
                      (9, 12, 7, 21, true, false, 1)])
    func directMatchesTheDefinition(_ c: (cin: Int, cout: Int, h: Int, w: Int, bias: Bool, relu: Bool, stride: Int)) throws {
        let s = c.stride
        let conv = try Self.conv(cin: c.cin, cout: c.cout, k: 3, seed: 7 * c.w + c.h, bias: c.bias, stride: s, pad: 1)
        let x = try OpFixtures.tensor([c.cin, c.h, c.w], seed: c.h * c.w)
        let (ho, wo) = conv.outputSize(height: c.h, width: c.w)
        var want = [Float](repeating: 0, count: c.cout * ho * wo)
        for co in 0..<c.cout {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var sum = Double(conv.bias?.storage[co] ?? 0)
                    for ci in 0..<c.cin {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let iy = s * oy + ky - 1, ix = s * ox + kx - 1
                                guard iy >= 0, iy < c.h, ix >= 0, ix < c.w else { continue }
                                sum += Double(conv.weight.storage[co * c.cin * 9 + (ci * 3 + ky) * 3 + kx])
                                    * Double(x.storage[(ci * c.h + iy) * c.w + ix])
                            }
                        }
                    }
                    want[(co * ho + oy) * wo + ox] = Float(c.relu ? max(0, sum) : sum)
                }
            }
        }
        var first: [Float]?
        for threads in [1, 2, 3] {
            var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
            try conv.forward(x, into: &out, scratch: &scratch, relu: c.relu, context: ComputeContext(threads: threads))
            #expect(out.shape == [c.cout, ho, wo])
            let err = zip(out.storage, want).map { abs($0 - $1) }.max() ?? 0
            let bound: Float = 1e-5 * max(1, want.map { abs($0) }.max() ?? 0)
            #expect(err <= bound, "cin \(c.cin) cout \(c.cout) \(c.h)x\(c.w) stride \(s) threads \(threads): max error \(err)")
            #expect((scratch.count == 0) == (c.cout % 8 == 0), "the direct path needs no im2col buffer")
            if let first { #expect(out.storage == first, "threads \(threads) changed bits") } else { first = out.storage }
        }
    }

    /// The direct kernel's two blockings (16 output channels a pass where the CPU has AVX-512 and
    /// the count allows, 8 otherwise) give the same bits: 24 channels run 8 at a time, their first
    /// 16 alone (16 at a time on AVX-512 machines) must match them exactly, at stride 1 and 2.
    @Test(arguments: [1, 2]) func directBlockingsGiveTheSameBits(stride: Int) throws {
        let wide = try Self.conv(cin: 40, cout: 24, k: 3, seed: 90 + stride, bias: true, stride: stride, pad: 1)
        let narrow = try Conv2D(weight: Tensor(shape: [16, 40, 3, 3], storage: Array(wide.weight.storage[..<(16 * 40 * 9)])),
                                bias: Tensor(shape: [16], storage: Array(wide.bias!.storage[..<16])), stride: stride, padding: 1)
        let x = try OpFixtures.tensor([40, 13, 40], seed: 91)
        var a = Tensor(shape: [0]), b = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        try wide.forward(x, into: &a, scratch: &scratch, relu: true, context: ComputeContext(threads: 2))
        try narrow.forward(x, into: &b, scratch: &scratch, relu: true, context: ComputeContext(threads: 1))
        #expect(scratch.count == 0)
        #expect(Array(a.storage[..<b.count]) == b.storage)
    }

    /// The direct path reports the range it wrote, equal to the one computed from its output (what
    /// an int8 conv reading it would compute), with partial 16-column blocks and several threads;
    /// the im2col path reports none.
    @Test(arguments: [(3, 24, 37, 70, true, 2), (2, 8, 3, 130, false, 2), (3, 16, 12, 40, true, 2),
                      (48, 16, 9, 40, false, 1), (70, 8, 5, 23, true, 1)])
    func directTracksTheRangeItWrote(_ c: (cin: Int, cout: Int, h: Int, w: Int, relu: Bool, stride: Int)) throws {
        let conv = try Self.conv(cin: c.cin, cout: c.cout, k: 3, seed: 11 * c.w, bias: true, stride: c.stride, pad: 1)
        let x = try OpFixtures.tensor([c.cin, c.h, c.w], seed: c.w)
        for threads in [1, 3] {
            var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
            let range = try conv.forward(x, into: &out, scratch: &scratch, relu: c.relu, context: ComputeContext(threads: threads))
            #expect(range == ValueRange(of: out), "threads \(threads): \(String(describing: range)) vs \(ValueRange(of: out))")
            #expect(c.relu ? range?.lower == 0 : (range?.lower ?? 0) < 0)
        }
        let im2col = try Self.conv(cin: c.cin, cout: 5, k: 3, seed: 1, bias: true, stride: c.stride, pad: 1)
        var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        #expect(try im2col.forward(x, into: &out, scratch: &scratch) == nil)
    }

    @Test func repeatedCallsReuseOutputAndScratch() throws {
        let conv = try Self.conv(cin: 8, cout: 16, k: 3, seed: 5, bias: true, stride: 2, pad: 1)
        let x = try OpFixtures.tensor([8, 17, 23], seed: 6)
        var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        try conv.forward(x, into: &out, scratch: &scratch, relu: true)
        let first = out.storage.map { $0 }  // a copy that shares no buffer with `out`
        let addresses = (out.storageAddress, scratch.storageAddress)
        for _ in 0..<5 {
            try conv.forward(x, into: &out, scratch: &scratch, relu: true)
            #expect(out.storageAddress == addresses.0 && scratch.storageAddress == addresses.1)
        }
        #expect(out.storage == first)
        #expect(out.storage.allSatisfy { $0 >= 0 })
        #expect(conv.macs(height: 17, width: 23) == 16 * 9 * 12 * 8 * 9)
    }

    @Test func rejectsMismatchedShapes() throws {
        let w = Tensor(shape: [4, 3, 3, 3])
        #expect(throws: TensorError.self) { try Conv2D(weight: Tensor(shape: [4, 3, 3]), bias: nil) }
        #expect(throws: TensorError.self) { try Conv2D(weight: w, bias: Tensor(shape: [5])) }
        #expect(throws: TensorError.self) { try Conv2D(weight: w, bias: nil, stride: 0) }
        let conv = try Conv2D(weight: w, bias: nil)
        var out = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        #expect(throws: TensorError.self) { try conv.forward(Tensor(shape: [2, 5, 5]), into: &out, scratch: &scratch) }
        // A kernel larger than the padded input gives an empty output, not a crash.
        try conv.forward(Tensor(shape: [3, 2, 2]), into: &out, scratch: &scratch)
        #expect(out.shape == [4, 0, 0])
    }
}
