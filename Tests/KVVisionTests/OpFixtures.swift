import Foundation
import Testing
@testable import KVVision

/// Inputs of the op fixtures (Tests/KVVisionTests/Fixtures/ops, written by
/// tools/reference/make_op_fixtures.py): the script's `hashvals` generator, reproduced bit for bit.
enum OpFixtures {
    /// `hashvals(n, seed, scale)`: `u = ((i + 7919·seed) · 2654435761) mod 2³²`,
    /// `v = Float((u / 2³² · 2 − 1) · scale)` computed in Double and rounded once.
    static func hashvals(_ n: Int, seed: Int, scale: Double = 1) -> [Float] {
        (0..<n).map { i in
            let u = (UInt64(i) &+ UInt64(7919 * seed)) &* 2_654_435_761 % (1 << 32)
            return Float((Double(u) / 4_294_967_296 * 2 - 1) * scale)
        }
    }

    static func tensor(_ shape: [Int], seed: Int, scale: Double = 1) throws -> Tensor {
        try Tensor(shape: shape, storage: hashvals(shape.reduce(1, *), seed: seed, scale: scale))
    }

    /// A committed fixture array.
    static func load(_ name: String) throws -> Tensor {
        try NpyFile.read(path: TestFiles.fixture("ops/\(name).npy").path)
    }

    /// Largest |a − b| over all elements (shapes must agree).
    static func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
        #expect(a.shape == b.shape)
        guard a.shape == b.shape else { return .infinity }
        var e: Float = 0
        for i in a.storage.indices { e = max(e, abs(a.storage[i] - b.storage[i])) }
        return e
    }

    /// Largest |x| (at least `floor`).
    static func maxAbs(_ a: Tensor, floor: Float = 0) -> Float { a.storage.reduce(floor) { max($0, abs($1)) } }
}
