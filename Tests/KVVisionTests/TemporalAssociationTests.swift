import Foundation
import Testing
@testable import KVVision

/// `OwnerAssociation`, `PinnedMemory`, per-owner counts and `AssociationConfig` against the naive
/// Double oracle `AssociationReference`.
///
/// Bounds: f32 storage within 2e-5 absolute per probability (f32 scores, f32 running means);
/// f16 / int8 storage: every log-probability within 2δ + 1e-4 of the exact one, where δ is the
/// largest a-priori score error Σ_c |q_c|·ε_c / √d over the window and the pinned means, with
/// ε_c = 2⁻¹¹·|k_c| (f16) or the int8 half-step (max |k| of the head / 254 per token, of the channel
/// over the slot for per-channel scales) — one owner's log(A/n) moves by at most δ, the normaliser too.
@Suite struct TemporalAssociationTests {
    static let kvHeads = 2, headDim = 8, queryHeads = 4, window = 4, maxObjects = 3
    static let candidates = [5, 7, 9, 11, 13, 21]

    /// A stream where owner 5 is seen only in frames 0–2 (lost longer than W after frame 6), 21 never.
    static func stream(frames: Int, seed: UInt64) -> [AssociationReference.Frame] {
        var rng = SplitMix64(seed: seed)
        let width = kvHeads * headDim
        return (0..<frames).map { t in
            var owners = [0]
            for o in [5, 7, 9, 11, 13] where owners.count < 1 + maxObjects {
                if o == 5 ? t < 3 : rng.nextInt(in: 0...1) == 1 { owners.append(o) }
            }
            func row() -> [Double] { (0..<width).map { _ in Double(rng.nextFloat()) * 1.5 } }
            return .init(keys: owners.map { _ in row() }, values: owners.map { _ in row() }, owners: owners)
        }
    }

    static func queries(seed: UInt64, n: Int = 3) -> [[Double]] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in (0..<(queryHeads * headDim)).map { _ in Double(rng.nextFloat()) * 1.5 } }
    }

    static func tensor(_ rows: [[Double]]) throws -> Tensor {
        try Tensor(shape: [rows.count, rows[0].count], storage: rows.flatMap { $0.map { Float($0) } })
    }

    static func config(storage: KVStorageFormat = .f32, keyScales: KVWindowConfig.KeyScales = .perToken,
                       pinned: Int, use: AssociationConfig.PinnedUse) -> KVWindowConfig {
        KVWindowConfig(window: window, maxObjects: maxObjects, kvHeads: kvHeads, headDim: headDim, storage: storage,
                       keyScales: keyScales, association: AssociationConfig(pinnedOwners: pinned, pinnedUse: use))
    }

    /// Streams 20 frames through a window and the oracle, checking after every frame.
    static func run(_ config: KVWindowConfig, seed: UInt64, check: (KVWindow, AssociationReference, Int) throws -> Void) throws {
        var window = try KVWindow(config: config)
        var reference = AssociationReference(window: config.window, kvHeads: kvHeads, headDim: headDim,
                                             pinnedOwners: config.association.pinnedOwners, pinnedUse: config.association.pinnedUse)
        for (t, f) in stream(frames: 20, seed: seed).enumerated() {
            let k = try tensor(f.keys), v = try tensor(f.values)
            try window.admit(frame: t, time: Double(t), owners: f.owners, keys: k, values: v, contentKeys: k)
            // The oracle sees the keys and values as f32, as the window receives them.
            reference.frames.append(.init(keys: f.keys.map { $0.map { Double(Float($0)) } },
                                          values: f.values.map { $0.map { Double(Float($0)) } }, owners: f.owners))
            try check(window, reference, t)
        }
    }

    @Test(arguments: [(8, AssociationConfig.PinnedUse.whenAbsent), (8, .always), (2, .whenAbsent), (2, .always), (0, .whenAbsent)])
    func f32MatchesTheOracleBeforeAndAfterWrapWithEvictions(_ pinned: Int, _ use: AssociationConfig.PinnedUse) throws {
        var association = OwnerAssociation()
        var out = Tensor(shape: [0])
        var sawLostOwner = false
        try Self.run(Self.config(pinned: pinned, use: use), seed: 11) { window, reference, t in
            let q = Self.queries(seed: UInt64(100 + t))
            try association.probabilities(window: window, queries: Self.tensor(q), queryHeads: Self.queryHeads,
                                          candidates: Self.candidates, nullLogit: 0.3, into: &out)
            let expected = reference.probabilities(queries: q, queryHeads: Self.queryHeads, candidates: Self.candidates, nullLogit: 0.3)
            #expect(out.shape == [3, Self.candidates.count + 1])
            for i in 0..<3 {
                var sum = 0.0
                for c in 0...Self.candidates.count {
                    #expect(abs(Double(out[i, c]) - expected[i][c]) <= 2e-5, "frame \(t) query \(i) column \(c)")
                    sum += Double(out[i, c])
                }
                #expect(abs(sum - 1) <= 1e-5)
                #expect(out[i, Self.candidates.count - 1] == 0)  // owner 21 was never seen
                // Owner 5 left after frame 2: resident until frame 6, then reachable only through pinned memory.
                if t >= 7 {
                    #expect((out[i, 0] > 0) == (pinned > 0 && reference.pinned()[5] != nil), "frame \(t)")
                    if pinned > 0 && out[i, 0] > 0 { sawLostOwner = true }
                }
            }
            // Pinned memory: same owners, same means (f32 running mean vs exact).
            let pins = reference.pinned()
            #expect(window.pinned.pinnedOwners == pins.keys.sorted(), "frame \(t)")
            #expect(window.pinned.pinnedOwners.count <= pinned)
            for (o, p) in pins {
                let got = try #require(window.pinned.memory(of: o))
                #expect(got.weight == p.weight)
                for c in p.key.indices {
                    #expect(abs(Double(got.key[c]) - p.key[c]) <= 1e-6 && abs(Double(got.value[c]) - p.value[c]) <= 1e-6)
                }
            }
            for o in [0] + Self.candidates {
                #expect(window.residentTokens(of: o) == (reference.count(of: o), Float(reference.count(of: o))), "owner \(o) frame \(t)")
            }
            #expect(window.residentOwners() == Set(reference.resident.flatMap(\.owners)).sorted())
        }
        #expect(sawLostOwner == (pinned == 8))  // with L = 2 owner 5's entry is dropped for more recent ones
    }

    @Test(arguments: [(KVStorageFormat.f16, KVWindowConfig.KeyScales.perToken), (.int8, .perToken), (.int8, .perChannel)])
    func lossyStorageStaysWithinTheScoreErrorBound(_ storage: KVStorageFormat, _ scales: KVWindowConfig.KeyScales) throws {
        var association = OwnerAssociation()
        var out = Tensor(shape: [0])
        let d = Self.headDim, hq = Self.queryHeads, group = hq / Self.kvHeads
        try Self.run(Self.config(storage: storage, keyScales: scales, pinned: 8, use: .always), seed: 12) { window, reference, t in
            let q = Self.queries(seed: UInt64(200 + t))
            try association.probabilities(window: window, queries: Self.tensor(q), queryHeads: hq,
                                          candidates: Self.candidates, nullLogit: -0.2, into: &out)
            let expected = reference.probabilities(queries: q, queryHeads: hq, candidates: Self.candidates, nullLogit: -0.2)
            // Element error bounds of every key the window has held (resident or evicted).
            func errors(_ f: AssociationReference.Frame, _ token: Int) -> [Double] {
                let k = f.keys[token]
                switch storage {
                case .f32: return k.map { _ in 0 }
                case .f16: return k.map { abs($0) * pow(2, -11) }
                case .int8:
                    return k.indices.map { c in
                        let h = c / d
                        if scales == .perChannel { return f.keys.map { abs($0[c]) }.max()! / 254 }
                        return (0..<d).map { abs(k[h * d + $0]) }.max()! / 254
                    }
                }
            }
            var delta = 0.0
            for qi in q {
                for h in 0..<hq {
                    let g = h / group
                    for f in reference.frames {
                        for token in f.keys.indices {
                            let e = errors(f, token)
                            delta = max(delta, (0..<d).reduce(0.0) { $0 + abs(qi[h * d + $1]) * e[g * d + $1] } / Double(d).squareRoot())
                        }
                    }
                }
            }
            for i in 0..<3 {
                for c in 0...Self.candidates.count where expected[i][c] > 0 {
                    let err = abs(log(Double(out[i, c])) - log(expected[i][c]))
                    #expect(err <= 2 * delta + 1e-4, "\(storage) \(scales) frame \(t) query \(i) column \(c): \(err) > 2·\(delta)")
                }
            }
        }
    }

    /// A merged slot of weight w counts as its w frames: with α = 1, identical frames folded by
    /// `merge` associate exactly as the duplicates would in a fifo window (A_o and n_o both weighted).
    @Test func mergedSlotsCountAsTheirFrames() throws {
        var config = Self.config(pinned: 0, use: .whenAbsent)
        config.window = 8
        config.policy = .merge(threshold: 0.99, alpha: 1)
        var window = try KVWindow(config: config)
        var reference = AssociationReference(window: 8, kvHeads: Self.kvHeads, headDim: Self.headDim, pinnedOwners: 0, pinnedUse: .whenAbsent)
        let frames = Self.stream(frames: 3, seed: 21)
        for (t, f) in ([frames[0], frames[0], frames[0], frames[0], frames[1], frames[2]]).enumerated() {
            let k = try Self.tensor(f.keys), v = try Self.tensor(f.values)
            try window.admit(frame: t, time: 0, owners: f.owners, keys: k, values: v, contentKeys: k)
            reference.frames.append(.init(keys: f.keys.map { $0.map { Double(Float($0)) } },
                                          values: f.values.map { $0.map { Double(Float($0)) } }, owners: f.owners))
        }
        #expect(window.residentSlots == 3 && window.slot(0)?.weight == 4)
        let owner = frames[0].owners[1]
        #expect(window.residentTokens(of: owner).weight == Float(reference.count(of: owner)))
        let q = Self.queries(seed: 5)
        var association = OwnerAssociation()
        var out = Tensor(shape: [0])
        try association.probabilities(window: window, queries: Self.tensor(q), queryHeads: Self.queryHeads,
                                      candidates: Self.candidates, nullLogit: 0.1, into: &out)
        let expected = reference.probabilities(queries: q, queryHeads: Self.queryHeads, candidates: Self.candidates, nullLogit: 0.1)
        for i in 0..<3 { for c in 0...Self.candidates.count { #expect(abs(Double(out[i, c]) - expected[i][c]) <= 2e-5) } }
    }

    @Test func memoryIsKnownAndConstantWithManyOwners() throws {
        for storage in KVStorageFormat.allCases {
            let config = KVWindowConfig(window: 8, maxObjects: 4, kvHeads: 1, headDim: 16, storage: storage,
                                        association: AssociationConfig(pinnedOwners: 5))
            var window = try KVWindow(config: config)
            #expect(window.memoryBytes == config.memoryBytes)
            var off = config
            off.association.pinnedOwners = 0
            #expect(config.memoryBytes - off.memoryBytes == 5 * (4 + 8 + 8 + 2 * 16 * 4))
            let initial = window.allocatedBytes
            var rng = SplitMix64(seed: 4)
            var kv = Tensor(shape: [5, 16])
            var association = OwnerAssociation()
            var out = Tensor(shape: [0])
            let q = try Tensor(shape: [2, 16], storage: (0..<32).map { _ in rng.nextFloat() })
            let candidates = Array(1...40)
            try association.probabilities(window: window, queries: q, queryHeads: 1, candidates: candidates, nullLogit: 0, into: &out)
            let scratch = association.allocatedBytes
            for t in 0..<5_000 {
                for i in 0..<kv.count { kv.storage[i] = rng.nextFloat() }
                let owners = [0] + (0..<4).map { 1 + (t / 3 + $0 * 7) % 40 }  // 40 owners coming and going
                try window.admit(frame: t, time: 0, owners: owners, keys: kv, values: kv, contentKeys: kv)
                if t % 500 == 499 {  // long past the first evictions
                    try association.probabilities(window: window, queries: q, queryHeads: 1, candidates: candidates, nullLogit: 0, into: &out)
                    #expect(association.allocatedBytes == scratch)
                    #expect(window.allocatedBytes == initial && window.pinned.pinnedOwners.count == 5)
                    #expect(out.storage.allSatisfy { $0.isFinite })
                }
            }
            window.reset()
            #expect(window.pinned.pinnedOwners.isEmpty && window.residentOwners().isEmpty)
        }
    }

    @Test func configDecodesSnakeCaseWithDefaultsAndValidates() throws {
        let minimal = try JSONDecoder().decode(KVWindowConfig.self, from: Data(#"{"kv_heads":1,"head_dim":4}"#.utf8))
        #expect(minimal.association == AssociationConfig(pinnedOwners: 0, pinnedUse: .whenAbsent))
        let full = try JSONDecoder().decode(KVWindowConfig.self, from: Data(
            #"{"kv_heads":1,"head_dim":4,"association":{"pinned_owners":12,"pinned_use":"always"}}"#.utf8))
        #expect(full.association == AssociationConfig(pinnedOwners: 12, pinnedUse: .always))
        #expect(try JSONDecoder().decode(KVWindowConfig.self, from: JSONEncoder().encode(full)) == full)
        let text = String(decoding: try JSONEncoder().encode(AssociationConfig(pinnedOwners: 3)), as: UTF8.self)
        #expect(text.contains("\"pinned_owners\":3") && text.contains("\"pinned_use\":\"when_absent\""))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AssociationConfig.self, from: Data(#"{"pinned_use":"sometimes"}"#.utf8))
        }
        for bad in [-1, 4097] {
            var c = full
            c.association.pinnedOwners = bad
            #expect(throws: TemporalError.self) { try c.validate() }
            #expect(throws: TemporalError.self) { try KVWindow(config: c) }
        }
    }

    @Test func rejectsBadCallsAndHandlesAnEmptyWindow() throws {
        let config = Self.config(pinned: 2, use: .whenAbsent)
        let window = try KVWindow(config: config)
        var association = OwnerAssociation()
        var out = Tensor(shape: [0])
        let q = try Self.tensor(Self.queries(seed: 1, n: 2))
        try association.probabilities(window: window, queries: q, queryHeads: Self.queryHeads, candidates: [3, 4], nullLogit: 1, into: &out)
        #expect(out.storage == [0, 0, 1, 0, 0, 1])  // nothing cached: every query is a new track
        try association.probabilities(window: window, queries: q, queryHeads: Self.queryHeads, candidates: [], nullLogit: 1, into: &out)
        #expect(out.shape == [2, 1] && out.storage == [1, 1])
        #expect(throws: TemporalError.self) {
            try association.probabilities(window: window, queries: q, queryHeads: Self.queryHeads, candidates: [3, 3], nullLogit: 0, into: &out)
        }
        #expect(throws: TemporalError.self) {
            try association.probabilities(window: window, queries: q, queryHeads: 3, candidates: [3], nullLogit: 0, into: &out)
        }
        #expect(throws: TemporalError.self) {
            try association.probabilities(window: window, queries: q, queryHeads: Self.queryHeads, candidates: [3], nullLogit: .nan, into: &out)
        }
    }

    /// `TemporalAttention.associate` is the window-level formula on the head's own projected queries.
    @Test func temporalHeadAssociatesWithItsProjectedQueries() throws {
        let config = TemporalConfig(modelDim: 12, queryHeads: 2, kvHeads: 1, headDim: 6, rotaryDim: 0)
        let model = try TemporalAttention(config: config, weights: TemporalReference.randomWeights(config, seed: 8))
        let windowConfig = KVWindowConfig(window: 3, maxObjects: 2, kvHeads: 1, headDim: 6,
                                          association: AssociationConfig(pinnedOwners: 4))
        var state = try model.makeState(window: windowConfig)
        var rng = SplitMix64(seed: 9)
        func tokens(_ n: Int) throws -> Tensor { try Tensor(shape: [n, 12], storage: (0..<(n * 12)).map { _ in rng.nextFloat() }) }
        for t in 0..<7 { try model.step(&state, tokens: tokens(3), frame: t, owners: [0, t < 2 ? 4 : 6, 8]) }
        let x = try tokens(2)
        let p = try model.associate(&state, tokens: x, frame: 7, candidates: [4, 6, 8], nullLogit: 0.5)
        var q = Tensor(shape: [0])
        try GEMM.matmul(x, model.weights.q, transposeB: true, bias: model.weights.qBias, into: &q)
        var association = OwnerAssociation()
        var expected = Tensor(shape: [0])
        try association.probabilities(window: state.window, queries: q, queryHeads: 2, candidates: [4, 6, 8], nullLogit: 0.5, into: &expected)
        #expect(p == expected)
        #expect(p[0, 0] > 0 && state.window.residentTokens(of: 4).count == 0)  // owner 4 only in pinned memory
        #expect(state.association.logits[1, 3] == 0.5)
        #expect(throws: TemporalError.self) { try model.associate(&state, tokens: x, frame: 6, candidates: [4], nullLogit: 0) }
    }
}
