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
        // The scratch is reused across calls and input sizes without changing results.
        var again = Tensor(shape: [0])
        try q.forward(x, into: &again, scratch: &s, relu: c.relu, context: ComputeContext(threads: 1))
        #expect(again == one)
    }

    /// Padding reads the zero point: a constant input gives, at the border, exactly what the f32
    /// layer gives up to the constant's own rounding (interior and border alike within 1e-3).
    @Test func zeroPaddingIsExact() throws {
        let conv = try OpsConvTests.conv(cin: 8, cout: 5, k: 3, seed: 700, bias: true, stride: 1, pad: 1)
        let x = try Tensor(shape: [8, 6, 7], storage: [Float](repeating: 1.25, count: 8 * 42))
        var ref = Tensor(shape: [0]), scratch = Tensor(shape: [0]), out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        try conv.forward(x, into: &ref, scratch: &scratch)
        try Int8Conv2D(conv, isa: .reference).forward(x, into: &out, scratch: &s)
        // 1.25 is the range's top: it quantises to 255 exactly, so only the weights' rounding remains.
        let err = OpFixtures.maxAbsDiff(out, ref)
        #expect(err <= 0.01 * OpFixtures.maxAbs(ref, floor: 1), "max error \(err)")
    }

    @Test func rejectsAWrongInput() throws {
        let conv = try OpsConvTests.conv(cin: 4, cout: 2, k: 3, seed: 800, bias: false, stride: 1, pad: 1)
        var out = Tensor(shape: [0]), s = Int8Conv2D.Scratch()
        #expect(throws: TensorError.self) {
            try Int8Conv2D(conv).forward(Tensor(shape: [3, 5, 5]), into: &out, scratch: &s)
        }
    }
}
