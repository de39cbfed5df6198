import Foundation
@testable import KVVision

/// An independent, naive Double-precision implementation of temporal attention, used as the
/// oracle for the streaming implementation: every call projects all the tokens it is given afresh.
struct TemporalReference {
    let config: TemporalConfig
    let weights: TemporalWeights

    /// One frame as the oracle sees it.
    struct Frame {
        var tokens: [[Float]]
        var index: Int
        var owners: [Int]
        /// Times the frame counts (duplicates collapsed by `merge`); 1 normally.
        var weight: Double = 1
    }

    /// Random weights scaled by 1/√fan-in (and biases), deterministic in `seed`.
    static func randomWeights(_ config: TemporalConfig, seed: UInt64, biases: Bool = true) throws -> TemporalWeights {
        var rng = SplitMix64(seed: seed)
        func t(_ shape: [Int], fanIn: Int) throws -> Tensor {
            let s = Float(1 / Double(fanIn).squareRoot())
            return try Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() * s })
        }
        let dq = config.queryHeads * config.headDim, dkv = config.kvHeads * config.headDim, d = config.modelDim
        return try TemporalWeights(
            config: config, q: t([dq, d], fanIn: d), k: t([dkv, d], fanIn: d), v: t([dkv, d], fanIn: d), o: t([d, dq], fanIn: dq),
            qBias: biases ? t([dq], fanIn: 4) : nil, kBias: biases ? t([dkv], fanIn: 4) : nil,
            vBias: biases ? t([dkv], fanIn: 4) : nil, oBias: biases ? t([d], fanIn: 4) : nil)
    }

    private func linear(_ w: Tensor, _ b: Tensor?, _ x: [Float]) -> [Double] {
        let out = w.shape[0], inp = w.shape[1]
        return (0..<out).map { o in
            var s = b.map { Double($0.storage[o]) } ?? 0
            for i in 0..<inp { s += Double(w.storage[o * inp + i]) * Double(x[i]) }
            return s
        }
    }

    /// Rotate-half RoPE on every head of `x` at `position`.
    private func rotate(_ x: [Double], heads: Int, position: Int) -> [Double] {
        var y = x
        let d = config.headDim, r = config.rotaryDim, half = r / 2
        for h in 0..<heads {
            for i in 0..<half {
                let theta = Double(position) * pow(config.ropeBase, -2 * Double(i) / Double(r))
                let a = x[h * d + i], b = x[h * d + i + half]
                y[h * d + i] = a * cos(theta) - b * sin(theta)
                y[h * d + i + half] = b * cos(theta) + a * sin(theta)
            }
        }
        return y
    }

    /// `ownerAffinity` computed naively: mean over heads of log Σ_{j ∈ owner} w_j exp(q·k_j/√d).
    func affinity(current: Frame, window: [Frame], candidates: [Int]) -> [[Double]] {
        let hq = config.queryHeads, hkv = config.kvHeads, d = config.headDim, group = hq / hkv
        return current.tokens.map { x in
            let q = rotate(linear(weights.q, weights.qBias, x), heads: hq, position: current.index)
            return candidates.map { o in
                var total = 0.0
                for h in 0..<hq {
                    var mass = 0.0
                    for f in window {
                        for (t, y) in f.tokens.enumerated() where f.owners[t] == o {
                            let k = rotate(linear(weights.k, weights.kBias, y), heads: hkv, position: f.index)
                            var s = 0.0
                            for c in 0..<d { s += q[h * d + c] * k[(h / group) * d + c] }
                            mass += f.weight * exp(s / Double(d).squareRoot())
                        }
                    }
                    total += log(mass)
                }
                return total / Double(hq)
            }
        }
    }

    /// Outputs (`[n][modelDim]`) of the current frame's tokens attending over `window` (which
    /// must include the current frame), each query seeing the keys `visible(queryOwner, keyOwner)` allows.
    func outputs(current: Frame, window: [Frame], visible: (Int, Int) -> Bool = { _, _ in true }) -> [[Double]] {
        let hq = config.queryHeads, hkv = config.kvHeads, d = config.headDim, group = hq / hkv
        var keys: [[Double]] = [], values: [[Double]] = [], owners: [Int] = [], logWeights: [Double] = []
        for f in window {
            for (i, x) in f.tokens.enumerated() {
                keys.append(rotate(linear(weights.k, weights.kBias, x), heads: hkv, position: f.index))
                values.append(linear(weights.v, weights.vBias, x))
                owners.append(f.owners[i])
                logWeights.append(log(f.weight))
            }
        }
        return current.tokens.enumerated().map { (qi, x) in
            let q = rotate(linear(weights.q, weights.qBias, x), heads: hq, position: current.index)
            var attended = [Double](repeating: 0, count: hq * d)
            for h in 0..<hq {
                let g = h / group
                var scores: [Double] = []
                var idx: [Int] = []
                for j in keys.indices where visible(current.owners[qi], owners[j]) {
                    var s = 0.0
                    for c in 0..<d { s += q[h * d + c] * keys[j][g * d + c] }
                    scores.append(s / Double(d).squareRoot() + logWeights[j])
                    idx.append(j)
                }
                guard let m = scores.max() else { continue }
                let e = scores.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for (p, j) in zip(e, idx) {
                    for c in 0..<d { attended[h * d + c] += p / z * values[j][g * d + c] }
                }
            }
            let a = attended.map { Float($0) }
            return linear(weights.o, weights.oBias, a)
        }
    }
}

/// Random token streams for temporal tests.
enum TemporalStreams {
    /// `frames` frames of 1…maxTokens random tokens (width `dim`), owners 0 for the scene token
    /// and `ownerPool` ids for the rest.
    static func random(frames: Int, maxTokens: Int, dim: Int, seed: UInt64, varyCount: Bool = true,
                       ownerPool: [Int] = [7, 9, 11]) -> [TemporalReference.Frame] {
        var rng = SplitMix64(seed: seed)
        return (0..<frames).map { t in
            let n = varyCount ? rng.nextInt(in: 1...maxTokens) : maxTokens
            let tokens = (0..<n).map { _ in (0..<dim).map { _ in rng.nextFloat() } }
            let owners = [0] + (1..<max(1, n)).map { ownerPool[($0 - 1) % ownerPool.count] }
            return TemporalReference.Frame(tokens: tokens, index: t, owners: Array(owners.prefix(n)))
        }
    }

    /// A slowly changing stream: every frame has `tokens` tokens drifting by `step` per frame.
    static func slow(frames: Int, tokens: Int, dim: Int, seed: UInt64, step: Float = 0.02) -> [TemporalReference.Frame] {
        var rng = SplitMix64(seed: seed)
        var x = (0..<tokens).map { _ in (0..<dim).map { _ in rng.nextFloat() } }
        return (0..<frames).map { t in
            if t > 0 { x = x.map { row in row.map { $0 + step * rng.nextFloat() } } }
            return TemporalReference.Frame(tokens: x, index: t, owners: [0] + (1..<tokens).map { $0 + 6 })
        }
    }

    static func tensor(_ f: TemporalReference.Frame) throws -> Tensor {
        try Tensor(shape: [f.tokens.count, f.tokens[0].count], storage: f.tokens.flatMap { $0 })
    }

    /// Largest absolute difference between a step output and the oracle's.
    static func maxError(_ out: Tensor, _ expected: [[Double]]) -> Double {
        var e = 0.0
        let w = out.shape[1]
        for (i, row) in expected.enumerated() {
            for (c, v) in row.enumerated() { e = max(e, abs(Double(out.storage[i * w + c]) - v)) }
        }
        return e
    }
}
