import Foundation

/// Association probabilities of queries (detections) over the owners (tracks) cached in a KV
/// window, with a learned null ("new track") logit — the `asso` head's read of the window.
///
/// For a query q (one query head h, K/V head g = h / (H_q / H_kv), d channels) and a candidate owner
/// o with resident tokens j of weight w_j (the slot's merge weight, 1 unless `merge` folded frames):
///
///     A_o = Σ_j w_j · exp(q · k_j / √d),   n_o = Σ_j w_j,   L_o = log(A_o / n_o)
///
/// With pinned memory (k̄_o, m_o) taking part (`AssociationConfig.pinnedUse`: `when_absent` — only
/// when o has no resident token; `always` — whenever o has an entry), it counts as one more token of
/// weight m_o: A_o += m_o · exp(q · k̄_o / √d), n_o += m_o. So a lost owner scores exp(q·k̄_o/√d).
/// An owner with neither has L_o = −∞ (probability 0, absent from the denominator). With several
/// query heads, L_o is the mean over heads of the per-head log(A_o / n_o) (one head, as the asso
/// head has: exactly the formula). Then
///
///     P(o | q) = exp(L_o) / (Σ_o′ exp(L_o′) + exp(null_logit)),   P(new | q) = exp(null_logit) / (same)
///
/// computed in log space: each L_o is a log-sum-exp shifted by its largest term (Double), and the
/// normaliser is a log-sum-exp over {L_o′} ∪ {null_logit}. Each row of the result sums to 1.
/// Queries are used as given (the caller projects them, and rotates them when its keys are rotated).
///
/// Invariants: scratch grows to the largest call and is reused (no allocation at a fixed size).
/// Thread-safety: a value type; one stream owns one instance.
public struct OwnerAssociation: Sendable {
    /// Raw per-head scores `[H_q, n, listed.count]` of the last call: the candidates' resident rows only.
    var headScores = Tensor(shape: [0])
    /// The candidates' resident rows of the last call (increasing), with each one's candidate
    /// column and log weight at the same index.
    private var listed: [Int32] = []
    private var listedScratch = WindowAttention.ListedScratch()
    private var column: [Int] = []
    private var terms: [Double] = []
    private var peaks: [Double] = []
    private var weights: [Double] = []
    private var logWeight: [Double] = []
    private var pinnedTerm: [Double] = []
    private var mean: [Double] = []
    private var usePinned: [Int] = []
    /// `[n, m + 1]` logits of the last call: L_o per candidate, then the null logit.
    public private(set) var logits = Tensor(shape: [0])

    public init() {}

    /// Bytes held by the scratch (capacities).
    public var allocatedBytes: Int {
        (headScores.storage.capacity + logits.storage.capacity) * MemoryLayout<Float>.stride + listedScratch.allocatedBytes
            + listed.capacity * MemoryLayout<Int32>.stride + (column.capacity + usePinned.capacity) * MemoryLayout<Int>.stride
            + (terms.capacity + peaks.capacity + weights.capacity + logWeight.capacity + pinnedTerm.capacity + mean.capacity) * MemoryLayout<Double>.stride
    }

    /// `output` ← `[n, candidates.count + 1]`: P(candidate | query row) per column, P(new) last.
    /// - Parameters:
    ///   - queries: `[n, queryHeads · headDim]`.
    ///   - candidates: distinct owner ids (e.g. the live and lost tracks).
    ///   - nullLogit: the learned new-track logit (finite).
    public mutating func probabilities(window: KVWindow, queries: Tensor, queryHeads: Int, candidates: [Int],
                                       nullLogit: Float, into output: inout Tensor) throws(TemporalError) {
        let config = window.config, d = config.headDim, hkv = config.kvHeads, width = hkv * d
        guard queryHeads > 0, queryHeads % hkv == 0, queries.rank == 2, queries.shape[1] == queryHeads * d else {
            throw .tokens(frame: window.lastFrame ?? -1, expected: "association queries [n, \(queryHeads) × \(d)] with heads a multiple of \(hkv)",
                          found: queries.shape)
        }
        var distinct = true
        for a in candidates.indices { for b in candidates.indices where b > a && candidates[a] == candidates[b] { distinct = false } }
        guard distinct else {
            throw .owners(frame: window.lastFrame ?? -1, reason: "association candidates \(candidates) are not distinct")
        }
        guard nullLogit.isFinite else {
            throw .invalidConfig(field: "null_logit", value: "\(nullLogit)", reason: "must be finite")
        }
        let n = queries.shape[0], m = candidates.count, r = config.tokenRows, group = queryHeads / hkv
        // The candidates' resident rows (increasing), each with its column and log weight, and n_o;
        // room for every row up front, so the scratch does not grow as the window fills.
        if listed.capacity < r {
            listed.reserveCapacity(r); column.reserveCapacity(r); logWeight.reserveCapacity(r)
        }
        if headScores.storage.capacity < queryHeads * n * r { headScores.storage.reserveCapacity(queryHeads * n * r) }
        listed.removeAll(keepingCapacity: true)
        column.removeAll(keepingCapacity: true)
        logWeight.removeAll(keepingCapacity: true)
        weights.removeAll(keepingCapacity: true)
        weights.append(contentsOf: repeatElement(0, count: m))
        window.forEachFilledRow { j, w, owner in
            guard w > 0, let c = candidates.firstIndex(of: owner) else { return }
            listed.append(Int32(truncatingIfNeeded: j))
            column.append(c)
            logWeight.append(log(Double(w)))
            weights[c] += Double(w)
        }
        do {
            // Only candidates' rows are scored (headScores [H_q, n, listed.count]).
            try WindowAttention.scores(queries: queries, queryHeads: queryHeads, keys: window.keys, rows: listed, scratch: &listedScratch,
                                       into: &headScores)
        } catch {
            throw .kernel(frame: window.lastFrame ?? -1, underlying: error)
        }
        // Pinned entry used per candidate (−1: none).
        usePinned.removeAll(keepingCapacity: true)
        for (c, owner) in candidates.enumerated() {
            var e = -1
            if let o = Int32(exactly: owner), let found = window.pinned.entry(of: o),
               config.association.pinnedUse == .always || weights[c] == 0 {
                e = found
                weights[c] += window.pinned.weight(found)
            }
            usePinned.append(e)
        }
        output.resize([n, m + 1])
        logits.resize([n, m + 1])
        Self.refill(&peaks, m)
        Self.refill(&terms, m)
        Self.refill(&pinnedTerm, m)
        Self.refill(&mean, m)
        let scale = 1 / Double(d).squareRoot(), qStride = queryHeads * d
        for i in 0..<n {
            for c in 0..<m { mean[c] = 0 }
            for h in 0..<queryHeads {
                let g = h / group, base = (h * n + i) * listed.count
                // Per candidate: the largest term (its pinned term first), then Σ exp(term − largest).
                for c in 0..<m {
                    pinnedTerm[c] = -.infinity
                    if usePinned[c] >= 0 {
                        let e = usePinned[c]
                        var dot = 0.0
                        for ch in 0..<d {
                            dot += Double(queries.storage[i * qStride + h * d + ch]) * Double(window.pinned.keyMeans[e * width + g * d + ch])
                        }
                        pinnedTerm[c] = log(window.pinned.weight(e)) + dot * scale
                    }
                    peaks[c] = pinnedTerm[c]
                    terms[c] = 0
                }
                for t in listed.indices {
                    let x = Double(headScores.storage[base + t]) + logWeight[t]
                    if x > peaks[column[t]] { peaks[column[t]] = x }
                }
                for c in 0..<m where usePinned[c] >= 0 { terms[c] += exp(pinnedTerm[c] - peaks[c]) }
                for t in listed.indices {
                    terms[column[t]] += exp(Double(headScores.storage[base + t]) + logWeight[t] - peaks[column[t]])
                }
                for c in 0..<m {
                    mean[c] += weights[c] > 0 ? (peaks[c] + log(terms[c]) - log(weights[c])) / Double(queryHeads) : -.infinity
                }
            }
            var top = Double(nullLogit)
            for c in 0..<m { top = max(top, mean[c]) }
            var z = exp(Double(nullLogit) - top)
            for c in 0..<m { z += exp(mean[c] - top) }
            let logZ = top + log(z)
            let row = i * (m + 1)
            for c in 0..<m {
                logits.storage[row + c] = Float(mean[c])
                output.storage[row + c] = Float(exp(mean[c] - logZ))
            }
            logits.storage[row + m] = nullLogit
            output.storage[row + m] = Float(exp(Double(nullLogit) - logZ))
        }
    }

    /// `a` ← m zeros, keeping its allocation.
    private static func refill(_ a: inout [Double], _ m: Int) {
        a.removeAll(keepingCapacity: true)
        a.append(contentsOf: repeatElement(0, count: m))
    }
}
