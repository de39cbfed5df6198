import Foundation
import Testing
@testable import KVVision

/// Streaming temporal attention against the naive from-scratch oracle (`TemporalReference`).
@Suite struct TemporalAttentionTests {
    static let dim = 16

    static func model(queryHeads: Int = 4, kvHeads: Int = 2, headDim: Int = 8, rotaryDim: Int? = nil,
                      seed: UInt64 = 1) throws -> (TemporalAttention, TemporalReference) {
        let config = TemporalConfig(modelDim: dim, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim, rotaryDim: rotaryDim)
        let weights = try TemporalReference.randomWeights(config, seed: seed)
        return (try TemporalAttention(config: config, weights: weights), TemporalReference(config: config, weights: weights))
    }

    @Test(arguments: [(4, 4), (4, 2), (4, 1)])
    func fifoStreamEqualsRecomputingTheLastWFramesBeforeAndAfterWrap(heads: (Int, Int)) throws {
        let (model, reference) = try Self.model(queryHeads: heads.0, kvHeads: heads.1)
        let w = 4
        var state = try model.makeState(window: KVWindowConfig(window: w, maxObjects: 2, kvHeads: heads.1, headDim: 8))
        let frames = TemporalStreams.random(frames: 11, maxTokens: 3, dim: Self.dim, seed: 42)
        for (t, f) in frames.enumerated() {
            let out = try model.step(&state, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners)
            let expected = reference.outputs(current: f, window: Array(frames[max(0, t - w + 1)...t]))
            #expect(out.shape == [f.tokens.count, Self.dim])
            #expect(TemporalStreams.maxError(out, expected) < 1e-5, "frame \(t), heads \(heads)")
        }
        #expect(state.window.residentSlots == w)
    }

    @Test func sinksStreamEqualsSinksPlusRecentFramesRecomputed() throws {
        let (model, reference) = try Self.model()
        let w = 5, s = 2
        var state = try model.makeState(window: KVWindowConfig(window: w, maxObjects: 2, kvHeads: 2, headDim: 8, policy: .sinks(count: s)))
        let frames = TemporalStreams.random(frames: 12, maxTokens: 3, dim: Self.dim, seed: 43)
        for (t, f) in frames.enumerated() {
            let out = try model.step(&state, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners)
            let window = t < w ? Array(frames[0...t]) : Array(frames[0..<s]) + Array(frames[(t - (w - s) + 1)...t])
            #expect(TemporalStreams.maxError(out, reference.outputs(current: f, window: window)) < 1e-5, "frame \(t)")
        }
        #expect(state.window.temporalOrder().compactMap { state.window.slot($0)?.firstFrame } == [0, 1, 9, 10, 11])
    }

    @Test func groupedQueryAttentionEqualsMultiHeadWithSharedKeyValueWeights() throws {
        let (gqa, _) = try Self.model(queryHeads: 4, kvHeads: 2)
        // The same head as plain multi-head attention: each K/V head duplicated for the two query heads it serves.
        func duplicate(_ t: Tensor?) throws -> Tensor? {
            guard let t else { return nil }
            let rowWidth = t.rank == 2 ? t.shape[1] : 1, d = 8
            var out: [Float] = []
            for g in 0..<2 { for _ in 0..<2 { out += t.storage[(g * d * rowWidth)..<((g + 1) * d * rowWidth)] } }
            return try Tensor(shape: t.rank == 2 ? [4 * d, rowWidth] : [4 * d], storage: out)
        }
        let w = gqa.weights
        let mhaConfig = TemporalConfig(modelDim: Self.dim, queryHeads: 4, kvHeads: 4, headDim: 8)
        let mha = try TemporalAttention(config: mhaConfig, weights: TemporalWeights(
            config: mhaConfig, q: w.q, k: duplicate(w.k)!, v: duplicate(w.v)!, o: w.o,
            qBias: w.qBias, kBias: duplicate(w.kBias), vBias: duplicate(w.vBias), oBias: w.oBias))
        var a = try gqa.makeState(window: KVWindowConfig(window: 3, maxObjects: 2, kvHeads: 2, headDim: 8))
        var b = try mha.makeState(window: KVWindowConfig(window: 3, maxObjects: 2, kvHeads: 4, headDim: 8))
        for f in TemporalStreams.random(frames: 7, maxTokens: 3, dim: Self.dim, seed: 44) {
            let x = try TemporalStreams.tensor(f)
            let oa = try gqa.step(&a, tokens: x, frame: f.index, owners: f.owners)
            let ob = try mha.step(&b, tokens: x, frame: f.index, owners: f.owners)
            #expect(zip(oa.storage, ob.storage).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        #expect(a.window.memoryBytes < b.window.memoryBytes)
    }

    @Test func ownerRestrictionEqualsAttentionOverThatOwnersTokensAlone() throws {
        let (model, reference) = try Self.model()
        var state = try model.makeState(window: KVWindowConfig(window: 4, maxObjects: 2, kvHeads: 2, headDim: 8))
        let frames = TemporalStreams.random(frames: 9, maxTokens: 3, dim: Self.dim, seed: 45, varyCount: false)
        for (t, f) in frames.enumerated() {
            let window = Array(frames[max(0, t - 3)...t])
            let x = try TemporalStreams.tensor(f)
            let restricted = try model.step(&state, tokens: x, frame: f.index, owners: f.owners, restriction: .owners([7]))
            #expect(TemporalStreams.maxError(restricted, reference.outputs(current: f, window: window) { _, k in k == 7 }) < 1e-5)
            // Several owners: a second stream of the same frames restricted to the scene and owner 9.
            var other = try model.makeState(window: KVWindowConfig(window: 4, maxObjects: 2, kvHeads: 2, headDim: 8))
            for g in window {
                let out = try model.step(&other, tokens: TemporalStreams.tensor(g), frame: g.index, owners: g.owners, restriction: .owners([0, 9]))
                if g.index == f.index {
                    #expect(TemporalStreams.maxError(out, reference.outputs(current: f, window: window) { _, k in k == 0 || k == 9 }) < 1e-5)
                }
            }
            // Owner 7's own query against a stream made of owner 7's tokens only.
            let alone = window.map { TemporalReference.Frame(tokens: [$0.tokens[1]], index: $0.index, owners: [7]) }
            let expected = reference.outputs(current: alone.last!, window: alone)
            #expect(TemporalStreams.maxError(try rowTensor(restricted, 1), expected) < 1e-5, "frame \(t)")
        }
    }

    @Test func sameOwnerRestrictionLetsEachQuerySeeOnlyItsOwnHistory() throws {
        let (model, reference) = try Self.model()
        var state = try model.makeState(window: KVWindowConfig(window: 3, maxObjects: 2, kvHeads: 2, headDim: 8))
        let frames = TemporalStreams.random(frames: 6, maxTokens: 3, dim: Self.dim, seed: 46)
        for (t, f) in frames.enumerated() {
            let out = try model.step(&state, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners, restriction: .sameOwner)
            let expected = reference.outputs(current: f, window: Array(frames[max(0, t - 2)...t])) { q, k in q == k }
            #expect(TemporalStreams.maxError(out, expected) < 1e-5, "frame \(t)")
        }
    }

    /// `.sameOwner` reads take each query's rows as lists from the window; they give the bits of
    /// the `[n, rows]` bias matrix's read, with merged slots (weights ≠ 1), sinks, queries that
    /// share an owner and an owner first seen this frame (its own row only), in every storage format.
    @Test(arguments: KVStorageFormat.allCases)
    func ownerRowListsGiveTheBiasMatrixsBits(_ format: KVStorageFormat) throws {
        var (model, _) = try Self.model(rotaryDim: 0)
        var frames = TemporalStreams.random(frames: 12, maxTokens: 3, dim: Self.dim, seed: 48)
        for t in 5...7 { frames[t].tokens = frames[4].tokens; frames[t].owners = frames[4].owners }  // merged
        for policy in [KVWindowPolicy.merge(threshold: 0.99, alpha: 0.5), .sinks(count: 2)] {
            let config = KVWindowConfig(window: 5, maxObjects: 3, kvHeads: 2, headDim: 8, policy: policy, storage: format)
            var lists = try model.makeState(window: config), matrix = try model.makeState(window: config)
            for f in frames {
                var owners = f.owners
                if owners.count > 1 { owners[owners.count - 1] = owners[0] }  // two queries of one owner
                if owners.count > 2 { owners[1] = 999 }  // an owner first seen this frame
                model.useRowLists = true
                let a = try model.step(&lists, tokens: TemporalStreams.tensor(f), frame: f.index, owners: owners, restriction: .sameOwner)
                model.useRowLists = false
                let b = try model.step(&matrix, tokens: TemporalStreams.tensor(f), frame: f.index, owners: owners, restriction: .sameOwner)
                #expect(a == b, "\(format) \(policy) frame \(f.index)")
            }
        }
    }

    @Test func mergeOfIdenticalFramesEqualsFifoOutputWithFewerSlots() throws {
        // RoPE off: identical frames then have identical keys, which is when merging is exact.
        let (model, reference) = try Self.model(rotaryDim: 0)
        var merged = try model.makeState(window: KVWindowConfig(window: 6, maxObjects: 2, kvHeads: 2, headDim: 8,
                                                                policy: .merge(threshold: 0.999, alpha: 1)))
        var frames = TemporalStreams.random(frames: 10, maxTokens: 3, dim: Self.dim, seed: 47, varyCount: false)
        for t in 4...7 { frames[t].tokens = frames[3].tokens }
        var admissions: [Bool] = []
        for (t, f) in frames.enumerated() {
            let out = try model.step(&merged, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners)
            // fifo over every frame so far (a window large enough that nothing is evicted)
            #expect(TemporalStreams.maxError(out, reference.outputs(current: f, window: Array(frames[0...t]))) < 1e-5, "frame \(t)")
            admissions.append(merged.window.slot(merged.window.temporalOrder().last!)!.weight > 1)
        }
        #expect(merged.window.residentSlots == 6)  // 10 frames in 6 slots
        #expect(admissions == [false, false, false, false, true, true, true, true, false, false])
        let run = merged.window.slot(merged.window.temporalOrder()[3])!
        #expect(run.firstFrame == 3 && run.lastFrame == 7 && run.weight == 5)
    }

    @Test func ownerAffinityMatchesNaiveAttentionMassPerOwnerAndWritesNothing() throws {
        let (model, reference) = try Self.model()
        for storage in KVStorageFormat.allCases {
            var state = try model.makeState(window: KVWindowConfig(window: 3, maxObjects: 2, kvHeads: 2, headDim: 8, storage: storage))
            let frames = TemporalStreams.random(frames: 6, maxTokens: 3, dim: Self.dim, seed: 49, varyCount: false)
            for f in frames.prefix(5) { try model.step(&state, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners) }
            let before = state.window.framesAdmitted
            let candidates = [7, 9, 42]
            let a = try model.ownerAffinity(&state, tokens: TemporalStreams.tensor(frames[5]), frame: 5, candidates: candidates)
            let expected = reference.affinity(current: frames[5], window: Array(frames[2...4]), candidates: candidates)
            #expect(a.shape == [3, 3] && state.window.framesAdmitted == before)
            let tolerance: Float = storage == .int8 ? 2e-2 : storage == .f16 ? 2e-3 : 1e-4
            for i in 0..<3 {
                for o in 0..<2 { #expect(abs(a[i, o] - Float(expected[i][o])) < tolerance, "\(storage) token \(i) owner \(candidates[o])") }
                #expect(a[i, 2] == -.infinity)  // owner 42 has no tokens
            }
            #expect(throws: TemporalError.frameOrder(frame: 4, previous: 4)) {
                _ = try model.ownerAffinity(&state, tokens: TemporalStreams.tensor(frames[5]), frame: 4, candidates: candidates)
            }
        }
    }

    @Test func recomputeBaselineEqualsStreamedFifoStep() throws {
        let (model, _) = try Self.model()
        let config = KVWindowConfig(window: 4, maxObjects: 2, kvHeads: 2, headDim: 8)
        var streamed = try model.makeState(window: config)
        var scratch = try model.makeRecomputeScratch(window: config)
        let frames = TemporalStreams.random(frames: 9, maxTokens: 3, dim: Self.dim, seed: 48)
        for (t, f) in frames.enumerated() {
            let a = try model.step(&streamed, tokens: TemporalStreams.tensor(f), frame: f.index, owners: f.owners)
            let window = try frames[max(0, t - 3)...t].map { TemporalAttention.Frame(tokens: try TemporalStreams.tensor($0), frame: $0.index, owners: $0.owners) }
            let b = try model.recompute(&scratch, frames: window)
            #expect(a.shape == b.shape)
            #expect(zip(a.storage, b.storage).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func recomputeOverAContextSplitsItsProjectionsAndMatchesSerial() throws {
        let (model, _) = try Self.model()
        let config = KVWindowConfig(window: 40, maxObjects: 2, kvHeads: 2, headDim: 8)
        var serial = try model.makeRecomputeScratch(window: config), split = try model.makeRecomputeScratch(window: config)
        let window = try TemporalStreams.random(frames: 40, maxTokens: 3, dim: Self.dim, seed: 49).map {
            TemporalAttention.Frame(tokens: try TemporalStreams.tensor($0), frame: $0.index, owners: $0.owners)
        }
        let rows = window.reduce(0) { $0 + $1.tokens.shape[0] }
        let context = ComputeContext(threads: 2)
        let a = try model.recompute(&serial, frames: window)
        let b = try model.recompute(&split, frames: window, context: context)
        #expect(rows >= 64 && context.splitGEMMs == 2, "K and V projections of \(rows) rows split over 2 threads")
        #expect(a.shape == b.shape && zip(a.storage, b.storage).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func rejectsBadTokensOwnersAndFrameOrder() throws {
        let (model, _) = try Self.model()
        var state = try model.makeState(window: KVWindowConfig(window: 2, maxObjects: 1, kvHeads: 2, headDim: 8))
        #expect(throws: TemporalError.self) { try model.step(&state, tokens: Tensor(shape: [3, Self.dim]), frame: 0) }
        #expect(throws: TemporalError.self) { try model.step(&state, tokens: Tensor(shape: [1, Self.dim + 1]), frame: 0) }
        #expect(throws: TemporalError.self) { try model.step(&state, tokens: Tensor(shape: [0, Self.dim]), frame: 0) }
        #expect(throws: TemporalError.owners(frame: 0, reason: "1 owners for 2 tokens")) {
            try model.step(&state, tokens: Tensor(shape: [2, Self.dim]), frame: 0, owners: [1])
        }
        #expect(throws: TemporalError.owners(frame: 0, reason: "owner id outside the 32-bit range")) {
            try model.step(&state, tokens: Tensor(shape: [1, Self.dim]), frame: 0, owners: [Int(Int32.max) + 1])
        }
        var bad = Tensor(shape: [1, Self.dim])
        bad.storage[3] = .nan
        #expect(throws: TemporalError.nonFiniteTokens(frame: 0)) { try model.step(&state, tokens: bad, frame: 0) }
        bad.storage[3] = .infinity
        #expect(throws: TemporalError.nonFiniteTokens(frame: 0)) { try model.step(&state, tokens: bad, frame: 0) }
        #expect(state.window.framesAdmitted == 0)
        try model.step(&state, tokens: Tensor(shape: [1, Self.dim]), frame: 5)
        #expect(throws: TemporalError.frameOrder(frame: 5, previous: 5)) { try model.step(&state, tokens: Tensor(shape: [1, Self.dim]), frame: 5) }
        #expect(throws: TemporalError.windowMismatch(field: "kvHeads", model: 2, window: 4)) {
            _ = try model.makeState(window: KVWindowConfig(window: 2, kvHeads: 4, headDim: 8))
        }
    }

    @Test func weightsLoadFromTemporalNamesAndReportMissingOrMisshapenTensors() throws {
        let (model, _) = try Self.model()
        let w = model.weights
        var table: [String: Tensor] = ["temporal.q.weight": w.q, "temporal.k.weight": w.k, "temporal.v.weight": w.v, "temporal.o.weight": w.o]
        let loaded = try TemporalWeights(config: model.config) { table[$0] }
        #expect(loaded.q == w.q && loaded.o == w.o && loaded.kBias == nil)
        table["temporal.v.weight"] = nil
        #expect(throws: TemporalError.missingTensor(name: "temporal.v.weight")) { _ = try TemporalWeights(config: model.config) { table[$0] } }
        table["temporal.v.weight"] = w.v
        table["temporal.o.bias"] = Tensor(shape: [3])
        #expect(throws: TemporalError.tensorShape(name: "temporal.o.bias", expected: [Self.dim], found: [3])) {
            _ = try TemporalWeights(config: model.config) { table[$0] }
        }
    }

    private func rowTensor(_ t: Tensor, _ row: Int) throws -> Tensor {
        let w = t.shape[1]
        return try Tensor(shape: [1, w], storage: Array(t.storage[(row * w)..<((row + 1) * w)]))
    }
}
