import Foundation
@testable import KVVision

/// An independent, naive Double-precision oracle for `OwnerAssociation` and `PinnedMemory` over a
/// fifo window: it keeps every frame ever written, takes the last W as resident, replays the
/// evicted ones into per-owner sums (exact means), and evaluates the association formula directly.
struct AssociationReference {
    struct Frame {
        var keys: [[Double]]
        var values: [[Double]]
        var owners: [Int]
    }

    var window: Int
    var kvHeads: Int
    var headDim: Int
    var pinnedOwners: Int
    var pinnedUse: AssociationConfig.PinnedUse
    var frames: [Frame] = []

    struct Pinned {
        var weight: Double
        var keySum: [Double]
        var valueSum: [Double]
        var stamp: Int
        var key: [Double] { keySum.map { $0 / weight } }
        var value: [Double] { valueSum.map { $0 / weight } }
    }

    var resident: ArraySlice<Frame> { frames.suffix(window) }

    /// The pinned memory after replaying every evicted frame in order (owner 0 skipped; a new
    /// owner when full replaces the least recently updated entry).
    func pinned() -> [Int: Pinned] {
        guard pinnedOwners > 0 else { return [:] }
        var entries: [Int: Pinned] = [:]
        var clock = 0
        for f in frames.prefix(max(0, frames.count - window)) {
            for (t, o) in f.owners.enumerated() where o != 0 {
                if entries[o] == nil {
                    if entries.count == pinnedOwners {
                        let oldest = entries.min { $0.value.stamp < $1.value.stamp }!.key
                        entries[oldest] = nil
                    }
                    entries[o] = Pinned(weight: 0, keySum: [Double](repeating: 0, count: f.keys[t].count),
                                        valueSum: [Double](repeating: 0, count: f.values[t].count), stamp: 0)
                }
                clock += 1
                entries[o]!.weight += 1
                for c in f.keys[t].indices { entries[o]!.keySum[c] += f.keys[t][c]; entries[o]!.valueSum[c] += f.values[t][c] }
                entries[o]!.stamp = clock
            }
        }
        return entries
    }

    /// Resident token count of `owner`.
    func count(of owner: Int) -> Int { resident.reduce(0) { $0 + $1.owners.filter { $0 == owner }.count } }

    /// P over `candidates` + [new] for each query row (`[n][queryHeads·d]`).
    func probabilities(queries: [[Double]], queryHeads: Int, candidates: [Int], nullLogit: Double) -> [[Double]] {
        let d = headDim, group = queryHeads / kvHeads, pins = pinned()
        return queries.map { q in
            let logits: [Double] = candidates.map { o in
                var total = 0.0
                for h in 0..<queryHeads {
                    let g = h / group
                    func dot(_ k: [Double]) -> Double { (0..<d).reduce(0.0) { $0 + q[h * d + $1] * k[g * d + $1] } / Double(d).squareRoot() }
                    var a = 0.0, n = 0.0
                    for f in resident { for (t, owner) in f.owners.enumerated() where owner == o { a += exp(dot(f.keys[t])); n += 1 } }
                    if let p = pins[o], pinnedUse == .always || n == 0 {
                        a += p.weight * exp(dot(p.key))
                        n += p.weight
                    }
                    if n == 0 { return -.infinity }
                    total += log(a / n)
                }
                return total / Double(queryHeads)
            }
            let z = logits.reduce(exp(nullLogit)) { $0 + exp($1) }
            return logits.map { exp($0) / z } + [exp(nullLogit) / z]
        }
    }
}
