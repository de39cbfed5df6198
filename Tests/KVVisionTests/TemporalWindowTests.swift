import Foundation
import Testing
@testable import KVVision

/// KVWindow configuration, slot policies, bookkeeping and memory.
@Suite struct TemporalWindowTests {
    @Test func configValidationRejectsOutOfRangeFields() {
        let base = KVWindowConfig(window: 8, maxObjects: 4, kvHeads: 2, headDim: 16)
        #expect(throws: Never.self) { try base.validate() }
        var c = base; c.window = 0
        #expect(throws: TemporalError.self) { try c.validate() }
        c = base; c.policy = .sinks(count: 8)
        #expect(throws: TemporalError.self) { try c.validate() }
        c = base; c.policy = .sinks(count: 0)
        #expect(throws: TemporalError.self) { try c.validate() }
        c = base; c.policy = .merge(threshold: 1.5, alpha: 1)
        #expect(throws: TemporalError.self) { try c.validate() }
        c = base; c.policy = .merge(threshold: 0.9, alpha: 0)
        #expect(throws: TemporalError.self) { try c.validate() }
        c = base; c.keyScales = .perChannel
        #expect(throws: TemporalError.self) { try c.validate() }  // per-channel scales need int8
        c.storage = .int8
        #expect(throws: Never.self) { try c.validate() }
        c = base; c.maxObjects = -1
        #expect(throws: TemporalError.self) { try KVWindow(config: c) }
    }

    @Test func configDecodesWithDocumentedDefaultsAndRoundTrips() throws {
        let minimal = try JSONDecoder().decode(KVWindowConfig.self, from: Data(#"{"kv_heads":2,"head_dim":32}"#.utf8))
        #expect(minimal == KVWindowConfig(window: 16, maxObjects: 16, kvHeads: 2, headDim: 32, policy: .fifo, storage: .f32))
        for policy: KVWindowPolicy in [.fifo, .sinks(count: 3), .merge(threshold: 0.97, alpha: 0.5)] {
            let c = KVWindowConfig(window: 8, maxObjects: 2, kvHeads: 1, headDim: 4, policy: policy, storage: .int8)
            #expect(try JSONDecoder().decode(KVWindowConfig.self, from: JSONEncoder().encode(c)) == c)
            #expect(KVWindowPolicy.parse(policy.description) == policy)
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(KVWindowPolicy.self, from: Data(#"{"kind":"lru"}"#.utf8))
        }
        #expect(KVWindowPolicy.parse("merge:0.9") == .merge(threshold: 0.9, alpha: 1))
        #expect(KVWindowPolicy.parse("sinks") == nil && KVWindowPolicy.parse("fifo:2") == nil && KVWindowPolicy.parse("") == nil)
    }

    @Test func reportedMemoryEqualsAllocationForEveryPolicyAndStorage() throws {
        for storage in KVStorageFormat.allCases {
            for policy: KVWindowPolicy in [.fifo, .sinks(count: 2), .merge(threshold: 0.9, alpha: 1)] {
                let config = KVWindowConfig(window: 16, maxObjects: 8, kvHeads: 2, headDim: 48, policy: policy, storage: storage)
                let window = try KVWindow(config: config)
                #expect(window.memoryBytes == config.memoryBytes, "\(policy) \(storage)")
                if storage == .int8 {
                    var kivi = config
                    kivi.keyScales = .perChannel
                    #expect(try KVWindow(config: kivi).memoryBytes == kivi.memoryBytes)
                    // per-channel key scales: H_kv·d floats per slot instead of (1+M)·H_kv
                    #expect(kivi.memoryBytes - config.memoryBytes == 16 * 2 * (48 - 9) * 4)
                }
                // The allocator may round each of the window's (at most 15 non-empty) arrays up a little, never less.
                #expect(window.allocatedBytes >= window.memoryBytes && window.allocatedBytes <= window.memoryBytes + 15 * 64)
            }
        }
    }

    @Test func int8WindowTakesAtMostThreeTenthsOfF32() {
        for headDim in [32, 48, 64] {
            for policy: KVWindowPolicy in [.fifo, .sinks(count: 4), .merge(threshold: 0.98, alpha: 1)] {
                let f32 = KVWindowConfig(window: 8, maxObjects: 16, kvHeads: 2, headDim: headDim, policy: policy, storage: .f32)
                var int8 = f32; int8.storage = .int8
                var f16 = f32; f16.storage = .f16
                #expect(Double(int8.storageBytes) <= 0.3 * Double(f32.storageBytes))
                if case .merge = policy {
                    // merge with quantised storage also keeps the newest slot's K and V as exact f32 means
                    let slot = 17 * 2 * headDim * 4
                    #expect(int8.memoryBytes - int8.storageBytes == f32.memoryBytes - f32.storageBytes + 2 * slot)
                } else {
                    #expect(Double(int8.memoryBytes) <= 0.3 * Double(f32.memoryBytes), "headDim \(headDim) \(policy)")
                }
                #expect(f16.storageBytes * 2 == f32.storageBytes)
            }
        }
    }

    @Test func memoryStaysConstantOverA100000FrameStream() throws {
        let config = TemporalConfig(modelDim: 4, queryHeads: 2, kvHeads: 1, headDim: 2)
        let model = try TemporalAttention(config: config, weights: TemporalReference.randomWeights(config, seed: 3))
        for policy: KVWindowPolicy in [.fifo, .merge(threshold: 0.5, alpha: 0.9)] {
            let windowConfig = KVWindowConfig(window: 8, maxObjects: 1, kvHeads: 1, headDim: 2, policy: policy, storage: .int8)
            var state = try model.makeState(window: windowConfig)
            var rng = SplitMix64(seed: 9)
            var tokens = Tensor(shape: [2, 4])
            let initial = state.allocatedBytes
            var sizes = Set<Int>()
            for t in 0..<100_000 {
                for i in 0..<tokens.count { tokens.storage[i] = rng.nextFloat() }
                try model.step(&state, tokens: tokens, frame: t, owners: [0, 1 + t % 3])
                if t % 1000 == 0 { sizes.insert(state.allocatedBytes); #expect(state.window.memoryBytes == windowConfig.memoryBytes) }
            }
            #expect(sizes == [initial], "\(policy)")
            #expect(state.window.memoryBytes == windowConfig.memoryBytes)
            #expect(state.window.framesAdmitted == 100_000 && state.window.lastFrame == 99_999)
            #expect(state.output.storage.allSatisfy { $0.isFinite })
        }
    }

    @Test func fifoEvictsOldestFrameAndOrdersResidentFramesOldestFirst() throws {
        var window = try KVWindow(config: KVWindowConfig(window: 3, maxObjects: 1, kvHeads: 1, headDim: 2))
        let kv = try Tensor(shape: [2, 2], storage: [1, 2, 3, 4])
        for t in 0..<5 {
            let a = try window.admit(frame: 10 * t, time: Double(t) / 25, owners: [0, 5], keys: kv, values: kv, contentKeys: kv)
            #expect(a == KVWindow.Admission(slot: t % 3, merged: false))
        }
        #expect(window.temporalOrder().map { window.slot($0)!.firstFrame } == [20, 30, 40])
        let newest = window.slot(window.temporalOrder().last!)!
        #expect(newest.time == 4.0 / 25 && newest.owners == [0, 5] && newest.weight == 1 && newest.tokenCount == 2)
        window.reset()
        #expect(window.residentSlots == 0 && window.temporalOrder().isEmpty && window.slot(0) == nil)
    }

    @Test func sinksKeepTheFirstFramesButEvictOldestRecentFrame() throws {
        var window = try KVWindow(config: KVWindowConfig(window: 4, maxObjects: 0, kvHeads: 1, headDim: 2, policy: .sinks(count: 2)))
        let kv = try Tensor(shape: [1, 2], storage: [1, 0])
        for t in 0..<9 { try window.admit(frame: t, time: 0, owners: [0], keys: kv, values: kv, contentKeys: kv) }
        #expect(window.temporalOrder().map { window.slot($0)!.firstFrame } == [0, 1, 7, 8])
    }

    @Test func mergeFoldsOnlySimilarFramesWithTheSameOwners() throws {
        var window = try KVWindow(config: KVWindowConfig(window: 4, maxObjects: 1, kvHeads: 1, headDim: 2,
                                                         policy: .merge(threshold: 0.99, alpha: 0.5)))
        func frame(_ values: [Float]) throws -> Tensor { try Tensor(shape: [values.count / 2, 2], storage: values) }
        var t = 0
        func admit(_ v: [Float], _ owners: [Int]) throws -> KVWindow.Admission {
            defer { t += 1 }
            let x = try frame(v)
            return try window.admit(frame: t, time: 0, owners: owners, keys: x, values: x, contentKeys: x)
        }
        #expect(try admit([1, 0, 0, 1], [0, 3]).merged == false)
        #expect(try admit([2, 0.01, 0, 3], [0, 3]).merged == true)    // same directions, other lengths
        #expect(try admit([1, 0, 0, 1], [0, 4]).merged == false)       // other owner
        #expect(try admit([1, 0], [0]).merged == false)                // other token count
        #expect(try admit([0, 1], [0]).merged == false)                // orthogonal
        let first = window.slot(window.temporalOrder().first!)!
        #expect(first.firstFrame == 0 && first.lastFrame == 1 && first.weight == 1.5)  // α·1 + 1 with α = 0.5
        #expect(window.residentSlots == 4)
        #expect(try admit([0, 1], [0]) == KVWindow.Admission(slot: 3, merged: true))
        #expect(try admit([1, 0], [0]) == KVWindow.Admission(slot: 0, merged: false))  // ring wraps: evicts the oldest
        var w2 = try KVWindow(config: window.config)
        let x = try frame([1, 0])
        try w2.admit(frame: 0, time: 0, owners: [0], keys: x, values: x, contentKeys: x)
        try w2.admit(frame: 1, time: 0, owners: [0], keys: x, values: x, contentKeys: x)
        #expect(w2.slot(0)!.weight == 1.5 && w2.slot(0)!.lastFrame == 1 && w2.residentSlots == 1)
    }
}
