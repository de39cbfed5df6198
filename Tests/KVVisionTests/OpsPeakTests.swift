import Foundation
import Testing
@testable import KVVision

/// `PeakPicking` and `TopK` against PyTorch (max_pool2d + topk) fixtures.
///
/// Exact: the suppressed map and the selected values are bit-identical; indices equal PyTorch's
/// wherever scores differ, and as sets within groups of equal scores (whose order PyTorch leaves
/// unspecified; kvvision orders them by ascending index).
@Suite struct OpsPeakTests {
    /// Checks `(values, indices)` against a `[K, 2]` torch.topk fixture.
    static func expectTopK(_ values: [Float], _ indices: [Int], _ fixture: Tensor, _ label: String) {
        let k = fixture.shape[0]
        #expect(values.count == k && indices.count == k, "\(label)")
        guard values.count == k, indices.count == k else { return }
        let tv = (0..<k).map { fixture[$0, 0] }, ti = (0..<k).map { Int(fixture[$0, 1]) }
        #expect(values == tv, "\(label)")
        var start = 0
        while start < k {
            var end = start + 1
            while end < k, tv[end] == tv[start] { end += 1 }
            // Within a tie group: the same indices, ours ascending.
            #expect(Set(indices[start..<end]) == Set(ti[start..<end]), "\(label) tie group at \(start)")
            #expect(Array(indices[start..<end]) == indices[start..<end].sorted(), "\(label)")
            start = end
        }
    }

    @Test(arguments: [("distinct", 12), ("ties", 16)])
    func decodeMatchesMaxPoolAndTopK(_ name: String, _ k: Int) throws {
        let heat = try OpFixtures.load("heat_\(name)")
        var decoder = PeakPicking(capacity: k)
        try decoder.decode(heat, k: k, threshold: 0)
        #expect(decoder.suppressed == (try OpFixtures.load("peaks_\(name)")))
        let fixture = try OpFixtures.load("topk_\(name)")
        let peaks = decoder.peaks
        Self.expectTopK(peaks.map(\.score), peaks.map { ($0.channel * 30 + $0.y) * 40 + $0.x }, fixture, name)
        if name == "distinct" {
            #expect(peaks.first == PeakPicking.Peak(channel: 0, y: 5, x: 7, score: 0.91))
            #expect(peaks.contains(PeakPicking.Peak(channel: 1, y: 29, x: 39, score: 0.77)))  // corner peak
        } else {
            // The plateau keeps both cells; the equal peaks come out by ascending flat index.
            #expect(peaks.filter { $0.score == Float(0.6) }.map { [$0.channel, $0.y, $0.x] } == [[1, 20, 10], [1, 20, 11]])
            #expect(Array(peaks.prefix(2).map { $0.channel }) == [0, 3])
        }
        // Threshold: only the real peaks (≥ 0.1) remain, in the same order.
        let strong = try decoder.decode(heat, k: k, threshold: 0.1)
        #expect(strong == peaks.filter { $0.score >= 0.1 })
        #expect(strong.allSatisfy { $0.score >= 0.1 } && strong.count == (name == "distinct" ? 9 : 13))
    }

    @Test func decodeReusesItsBuffers() throws {
        let heat = try OpFixtures.load("heat_ties")
        var decoder = PeakPicking(capacity: 100)
        try decoder.decode(heat, k: 100, threshold: 0.05)
        let address = decoder.suppressed.storageAddress
        for _ in 0..<3 { try decoder.decode(heat, k: 100, threshold: 0.05) }
        #expect(decoder.suppressed.storageAddress == address)
        #expect(throws: TensorError.self) { try decoder.decode(Tensor(shape: [30, 40]), k: 5, threshold: 0) }
        #expect(try decoder.decode(Tensor(shape: [2, 0, 4]), k: 5, threshold: 0).isEmpty)
    }

    @Test func topKMatchesTorchOnAVectorWithTies() throws {
        let v = try OpFixtures.load("topk_vector")
        var top = TopK(capacity: 37)
        top.select(v, k: 37)
        Self.expectTopK(top.values, top.indices, try OpFixtures.load("topk_vector_result"), "vector")
        #expect(Array(top.indices.prefix(4)) == [5, 500, 884, 999])
    }

    @Test func topKAgreesWithAFullSortForRandomInputs() {
        var rng = SplitMix64(seed: 77)
        var top = TopK()
        for trial in 0..<200 {
            let n = rng.nextInt(in: 0...300), k = rng.nextInt(in: 0...40)
            // Few distinct values, so ties are everywhere; a NaN now and then.
            var xs = (0..<n).map { _ in Float(rng.nextInt(in: -5...5)) / 4 }
            if trial % 7 == 0, n > 3 { xs[n / 2] = .nan }
            let sorted = xs.indices.sorted { TopK.precedes(xs[$0], $0, xs[$1], $1) }
            xs.withUnsafeBufferPointer { top.select($0, k: k) }
            #expect(top.indices == Array(sorted.prefix(k)), "trial \(trial)")
            #expect(zip(top.values, top.indices).allSatisfy { $0.0.bitPattern == xs[$0.1].bitPattern })
        }
        top.select(Tensor(shape: [3], repeating: 1), k: -2)
        #expect(top.indices.isEmpty)
    }
}
