import Foundation
import Testing
@testable import KVVision

/// The Tensor/ kernels the temporal window is built on: temporal RoPE, quantised KV rows,
/// masked window attention.
@Suite struct TemporalKernelTests {
    private func random(_ shape: [Int], _ rng: inout SplitMix64) throws -> Tensor {
        try Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() })
    }

    private func dot(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.storage, b.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    @Test func ropeScoresDependOnlyOnTheOffsetEvenAtLargePositions() throws {
        var rng = SplitMix64(seed: 1)
        let rope = try RotaryEmbedding(headDim: 16, rotaryDim: 16)
        let q = try random([1, 16], &rng), k = try random([1, 16], &rng)
        func score(_ p: Double, _ s: Double) throws -> Double {
            var a = q, b = k
            try rope.apply(&a, heads: 1, position: p)
            try rope.apply(&b, heads: 1, position: s)
            return dot(a, b)
        }
        let near = try score(7, 3)
        #expect(abs(try score(1_000_007, 1_000_003) - near) < 1e-4)
        #expect(abs(try score(4, 0) - near) < 1e-5)
        #expect(abs(try score(8, 3) - near) > 1e-3)  // a different offset gives a different score
    }

    @Test func ropeRotatesOnlyTheLeadingRotaryChannelsAndKeepsNorms() throws {
        var rng = SplitMix64(seed: 2)
        let x = try random([3, 2 * 8], &rng)
        var y = x
        try RotaryEmbedding(headDim: 8, rotaryDim: 4).apply(&y, heads: 2, position: 5)
        for r in 0..<3 {
            for h in 0..<2 {
                let base = r * 16 + h * 8
                #expect(Array(y.storage[(base + 4)..<(base + 8)]) == Array(x.storage[(base + 4)..<(base + 8)]))
                let nx = x.storage[base..<(base + 4)].reduce(0) { $0 + $1 * $1 }
                let ny = y.storage[base..<(base + 4)].reduce(0) { $0 + $1 * $1 }
                #expect(abs(nx - ny) < 1e-5)
                #expect(y.storage[base..<(base + 4)] != x.storage[base..<(base + 4)])
            }
        }
        var z = x
        try RotaryEmbedding(headDim: 8, rotaryDim: 0).apply(&z, heads: 2, position: 5)
        #expect(z == x)
        #expect(throws: TensorError.self) { try RotaryEmbedding(headDim: 8, rotaryDim: 3) }
        #expect(throws: TensorError.self) { try RotaryEmbedding(headDim: 8, rotaryDim: 10) }
    }

    @Test(arguments: KVStorageFormat.allCases)
    func storedRowsRoundTripWithinTheFormatsErrorBound(format: KVStorageFormat) throws {
        var rng = SplitMix64(seed: 3)
        let heads = 2, d = 16
        let src = try random([4, heads * d], &rng)
        var store = KVRowStore(format: format, rows: 6, heads: heads, headDim: d)
        #expect(store.storedBytes == KVRowStore.bytes(format: format, rows: 6, heads: heads, headDim: d))
        for i in 0..<4 { try store.store(row: i + 2, from: src, sourceRow: i) }
        var back = Tensor(shape: [4, heads * d])
        for i in 0..<4 { try store.load(row: i + 2, into: &back, destinationRow: i) }
        for i in 0..<4 {
            for h in 0..<heads {
                let range = (i * heads * d + h * d)..<(i * heads * d + (h + 1) * d)
                let maxAbs = src.storage[range].map { abs($0) }.max()!
                let bound: Float = switch format {
                case .f32: 0
                case .f16: maxAbs / 2048
                case .int8: maxAbs / 127 / 2 * 1.0001
                }
                for e in range { #expect(abs(back.storage[e] - src.storage[e]) <= bound, "\(format) row \(i) head \(h)") }
            }
        }
        #expect(throws: TensorError.self) { try store.store(row: 6, from: src, sourceRow: 0) }
        #expect(throws: TensorError.self) { try store.store(row: 0, from: src, sourceRow: 4) }
    }

    @Test func perChannelInt8GroupsRoundTripWithinEachChannelsBound() throws {
        var rng = SplitMix64(seed: 5)
        let heads = 2, d = 8, group = 3
        var src = try random([3, heads * d], &rng)
        for r in 0..<3 { src[r, 5] *= 40 }  // an outlier channel
        var store = KVRowStore(format: .int8, rows: 6, heads: heads, headDim: d, channelGroup: group)
        #expect(store.storedBytes == KVRowStore.bytes(format: .int8, rows: 6, heads: heads, headDim: d, channelGroup: group))
        #expect(store.storedBytes == 6 * heads * d + 2 * heads * d * 4)
        try store.blendRows(first: 3, keep: 0, add: 1, from: src, sourceRows: 0..<3)
        var back = Tensor(shape: [3, heads * d])
        for i in 0..<3 { try store.load(row: 3 + i, into: &back, destinationRow: i) }
        for e in 0..<(heads * d) {
            let maxAbs = (0..<3).map { abs(src[$0, e]) }.max()!
            for i in 0..<3 { #expect(abs(back[i, e] - src[i, e]) <= maxAbs / 254 * 1.0001, "row \(i) channel \(e)") }
        }
        // The other channels keep their precision despite the outlier in channel 5.
        #expect(abs(back[0, 4] - src[0, 4]) < 0.01)
        #expect(throws: TensorError.self) { try store.store(row: 0, from: src, sourceRow: 0) }
        #expect(throws: TensorError.self) { try store.blendRows(first: 1, keep: 0, add: 1, from: src, sourceRows: 0..<2) }
    }

    @Test func blendIsAWeightedMeanAndRequantises() throws {
        let a = try Tensor(shape: [1, 4], storage: [1, -2, 3, 4])
        let b = try Tensor(shape: [1, 4], storage: [3, 2, -1, 0])
        for format in KVStorageFormat.allCases {
            var store = KVRowStore(format: format, rows: 1, heads: 1, headDim: 4)
            try store.store(row: 0, from: a, sourceRow: 0)
            try store.blend(row: 0, keep: 0.75, add: 0.25, from: b, sourceRow: 0)
            var out = Tensor(shape: [1, 4])
            try store.load(row: 0, into: &out, destinationRow: 0)
            let expected: [Float] = [1.5, -1, 2, 3]
            #expect(zip(out.storage, expected).allSatisfy { abs($0 - $1) <= 0.03 }, "\(format): \(out.storage)")
        }
    }

    @Test func windowAttentionGivesZerosForFullyMaskedQueriesAndSkipsMaskedKeys() throws {
        var rng = SplitMix64(seed: 4)
        for format in KVStorageFormat.allCases {
            var keys = KVRowStore(format: format, rows: 3, heads: 1, headDim: 4)
            var values = KVRowStore(format: format, rows: 3, heads: 1, headDim: 4)
            let k = try random([3, 4], &rng), v = try random([3, 4], &rng)
            for i in 0..<3 { try keys.store(row: i, from: k, sourceRow: i); try values.store(row: i, from: v, sourceRow: i) }
            if format != .int8 {
                // Masked rows are not read at all: NaN there must not reach the output.
                let nan = try Tensor(shape: [1, 4], storage: [Float](repeating: .nan, count: 4))
                for i in [0, 2] { try keys.store(row: i, from: nan, sourceRow: 0); try values.store(row: i, from: nan, sourceRow: 0) }
            }
            let q = try random([2, 8], &rng)  // 2 query heads share the single K/V head
            let inf = -Float.infinity
            let bias = try Tensor(shape: [2, 3], storage: [inf, 0, inf, inf, inf, inf])
            var scores = Tensor(shape: [0]), out = Tensor(shape: [0])
            try WindowAttention.attend(queries: q, queryHeads: 2, keys: keys, values: values, bias: bias, scores: &scores, into: &out)
            #expect(out.shape == [2, 8])
            // query 0 sees only key 1: its output is value row 1 for both heads
            for h in 0..<2 { for c in 0..<4 { #expect(abs(out[0, h * 4 + c] - v[1, c]) < 0.02, "\(format)") } }
            #expect(out.storage[8..<16].allSatisfy { $0 == 0 })
        }
    }

    /// The listed read (each query's unmasked keys from a list, the default) gives the masked
    /// read's bits for every store format and head size, with log-weights, a query that sees one
    /// owner's rows, and one that sees none.
    @Test(arguments: [(KVStorageFormat.f32, 32), (.f32, 20), (.f16, 32), (.int8, 32), (.int8, 13)])
    func listedWindowReadGivesTheMaskedReadsBits(_ c: (format: KVStorageFormat, d: Int)) throws {
        var rng = SplitMix64(seed: UInt64(31 + c.d))
        let kvHeads = 2, queryHeads = 4, rows = 40, n = 4, d = c.d
        var keys = KVRowStore(format: c.format, rows: rows, heads: kvHeads, headDim: d)
        var values = KVRowStore(format: c.format, rows: rows, heads: kvHeads, headDim: d)
        let k = try random([rows, kvHeads * d], &rng), v = try random([rows, kvHeads * d], &rng)
        for i in 0..<rows { try keys.store(row: i, from: k, sourceRow: i); try values.store(row: i, from: v, sourceRow: i) }
        let q = try random([n, queryHeads * d], &rng)
        var bias = Tensor(shape: [n, rows])
        for j in 0..<rows {
            bias.storage[j] = j % 7 == 3 ? -.infinity : logf(0.5 + Float(j % 5) * 0.25)  // query 0: most rows, merge weights
            bias.storage[rows + j] = j % 8 == 2 ? 0 : -.infinity  // query 1: one owner's rows
            bias.storage[2 * rows + j] = -.infinity  // query 2: none
            bias.storage[3 * rows + j] = 0  // query 3: all
        }
        var s1 = Tensor(shape: [0]), s2 = Tensor(shape: [0]), listed = Tensor(shape: [0]), masked = Tensor(shape: [0])
        try WindowAttention.attend(queries: q, queryHeads: queryHeads, keys: keys, values: values, bias: bias, scores: &s1, into: &listed)
        try WindowAttention.attend(queries: q, queryHeads: queryHeads, keys: keys, values: values, bias: bias, scores: &s2, into: &masked,
                                   listed: false)
        #expect(listed.shape == [n, queryHeads * d] && listed == masked, "\(c.format) d \(d)")
        #expect(listed.storage[(2 * queryHeads * d)..<(3 * queryHeads * d)].allSatisfy { $0 == 0 })
        // The same keys given as row lists (the bias matrix's entries that are not −∞).
        guard WindowAttention.readsRowLists(keys) else { return }
        var lists = WindowRowLists()
        lists.reset(queries: n)
        for i in 0..<n {
            for j in 0..<rows where bias.storage[i * rows + j] != -.infinity {
                lists.rows.append(Int32(j)); lists.bias.append(bias.storage[i * rows + j])
            }
            lists.starts.append(lists.rows.count)
        }
        var s3 = Tensor(shape: [0]), fromLists = Tensor(shape: [0])
        try WindowAttention.attend(queries: q, queryHeads: queryHeads, keys: keys, values: values, lists: lists, scores: &s3, into: &fromLists)
        #expect(fromLists == masked, "\(c.format) d \(d), row lists")
        lists.rows[0] = Int32(rows)  // out of range: refused
        #expect(throws: TensorError.self) {
            try WindowAttention.attend(queries: q, queryHeads: queryHeads, keys: keys, values: values, lists: lists, scores: &s3, into: &fromLists)
        }
    }

    @Test func rawScoresWithARowBiasSkipOnlyTheMaskedRows() throws {
        var rng = SplitMix64(seed: 11)
        for format in KVStorageFormat.allCases {
            var keys = KVRowStore(format: format, rows: 5, heads: 2, headDim: 8)
            let k = try random([5, 16], &rng)
            for i in 0..<5 { try keys.store(row: i, from: k, sourceRow: i) }
            let q = try random([3, 32], &rng)  // 4 query heads over 2 key heads
            var all = Tensor(shape: [0]), some = Tensor(shape: [0])
            try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, into: &all)
            if format != .int8 {  // a masked row is never read: NaN there changes nothing
                let nan = try Tensor(shape: [1, 16], storage: [Float](repeating: .nan, count: 16))
                try keys.store(row: 3, from: nan, sourceRow: 0)
            }
            let inf = -Float.infinity
            try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, rowBias: try Tensor(shape: [5], storage: [0, inf, 0, inf, 0]), into: &some)
            #expect(some.shape == [4, 3, 5])
            for h in 0..<4 { for i in 0..<3 { for j in 0..<5 {
                let x = some.storage[(h * 3 + i) * 5 + j], want = all.storage[(h * 3 + i) * 5 + j]
                #expect(j % 2 == 1 ? x == 0 : x == want, "\(format) head \(h) query \(i) row \(j)")
            } } }
            #expect(throws: TensorError.self) {
                try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, rowBias: Tensor(shape: [4]), into: &some)
            }
        }
    }

    /// The scores of listed rows are the full read's scores of those rows, bit for bit, for every
    /// storage format (per-channel int8 keys included), with grouped query heads; rows out of
    /// range are refused.
    @Test(arguments: [(KVStorageFormat.f32, 0), (.f16, 0), (.int8, 0), (.int8, 3)])
    func listedScoresAreTheFullReadsScoresOfTheListedRows(_ c: (format: KVStorageFormat, group: Int)) throws {
        var rng = SplitMix64(seed: 19)
        let rows = 9, d = 20
        var keys = KVRowStore(format: c.format, rows: rows, heads: 2, headDim: d, channelGroup: c.group)
        let k = try random([rows, 2 * d], &rng)
        if c.group > 0 {
            for g in 0..<(rows / c.group) {
                try keys.blendRows(first: g * c.group, keep: 0, add: 1, from: k, sourceRows: (g * c.group)..<((g + 1) * c.group))
            }
        } else {
            for i in 0..<rows { try keys.store(row: i, from: k, sourceRow: i) }
        }
        let q = try random([3, 4 * d], &rng)
        var all = Tensor(shape: [0]), listed = Tensor(shape: [0]), scratch = WindowAttention.ListedScratch()
        try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, into: &all)
        let list: [Int32] = [0, 2, 3, 7, 8]
        try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, rows: list, scratch: &scratch, into: &listed)
        #expect(listed.shape == [4, 3, list.count])
        for h in 0..<4 { for i in 0..<3 { for (t, j) in list.enumerated() {
            #expect(listed.storage[(h * 3 + i) * list.count + t] == all.storage[(h * 3 + i) * rows + Int(j)], "\(c) head \(h) query \(i) row \(j)")
        } } }
        try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, rows: [], scratch: &scratch, into: &listed)
        #expect(listed.shape == [4, 3, 0])
        #expect(throws: TensorError.self) {
            try WindowAttention.scores(queries: q, queryHeads: 4, keys: keys, rows: [0, 9], scratch: &scratch, into: &listed)
        }
    }

    /// Attention over f32, f16, int8 and per-channel int8 stores (the fused, dequantising kernels)
    /// equals the attention computed naively in Double from the rows the store gives back, within
    /// f32 rounding: head sizes with and without an 8-float tail, grouped query heads, a masked key.
    @Test(arguments: [(KVStorageFormat.f32, 0, 32), (.f32, 0, 20), (.f16, 0, 32), (.f16, 0, 20), (.int8, 0, 32), (.int8, 0, 13), (.int8, 3, 16)])
    func windowAttentionEqualsTheNaiveOneOnItsStoredRows(_ c: (format: KVStorageFormat, group: Int, d: Int)) throws {
        var rng = SplitMix64(seed: UInt64(7 + c.d))
        let kvHeads = 2, queryHeads = 4, rows = 9, n = 3, d = c.d
        var keys = KVRowStore(format: c.format, rows: rows, heads: kvHeads, headDim: d, channelGroup: c.group)
        var values = KVRowStore(format: c.format, rows: rows, heads: kvHeads, headDim: d)
        let k = try random([rows, kvHeads * d], &rng), v = try random([rows, kvHeads * d], &rng)
        for i in 0..<rows { try values.store(row: i, from: v, sourceRow: i) }
        if c.group > 0 {  // per-channel key scales: whole groups at a time
            for g in 0..<(rows / c.group) {
                try keys.blendRows(first: g * c.group, keep: 0, add: 1, from: k, sourceRows: (g * c.group)..<((g + 1) * c.group))
            }
        } else {
            for i in 0..<rows { try keys.store(row: i, from: k, sourceRow: i) }
        }
        let q = try random([n, queryHeads * d], &rng)
        var bias = Tensor(shape: [n, rows])
        bias.storage[1 * rows + 4] = -.infinity
        var scores = Tensor(shape: [0]), out = Tensor(shape: [0])
        try WindowAttention.attend(queries: q, queryHeads: queryHeads, keys: keys, values: values, bias: bias, scores: &scores, into: &out)
        for i in 0..<n {
            for h in 0..<queryHeads {
                let g = h / (queryHeads / kvHeads)
                var logits = [Double](repeating: -.infinity, count: rows)
                for j in 0..<rows where bias[i, j] == 0 {
                    var dot = 0.0
                    for e in 0..<d { dot += Double(q[i, h * d + e]) * Double(keys.element(row: j, head: g, channel: e)) }
                    logits[j] = dot / Double(d).squareRoot()
                }
                let m = logits.max()!
                let w = logits.map { exp($0 - m) }, sum = w.reduce(0, +)
                for e in 0..<d {
                    var want = 0.0
                    for j in 0..<rows { want += w[j] / sum * Double(values.element(row: j, head: g, channel: e)) }
                    #expect(abs(Double(out[i, h * d + e]) - want) <= 1e-5, "\(c) query \(i) head \(h) channel \(e)")
                }
            }
        }
    }
}
