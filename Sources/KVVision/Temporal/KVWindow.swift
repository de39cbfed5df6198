import Foundation

/// One stream's temporal KV cache: W frame slots of `1 + M` token rows each, for `kvHeads` heads
/// of `headDim` channels, in f32, f16 or int8 (see `KVWindowConfig`, `KVWindowPolicy`).
///
/// Storage: `keys` and `values` are `KVRowStore`s of `W · (1 + M)` rows; slot s owns rows
/// `s·(1+M) ..< (s+1)·(1+M)`, its first `tokenCount` rows valid. Keys are stored already rotated by
/// their frame's temporal RoPE, so eviction or reordering never rewrites a key, and attention may
/// read the rows in storage order (softmax is order-free). Bookkeeping lives apart from K/V, in
/// per-slot arrays (first/last frame index, time, insertion sequence, merge weight, token count)
/// and one Int32 owner per token row.
///
/// State machine of a slot: empty (firstFrame = −1) → holding one frame (weight 1) → for `merge`,
/// holding a run of similar frames (weight > 1) → overwritten when the policy picks it again. Slot
/// choice: `fifo` cycles 0…W−1; `sinks(S)` fills 0…S−1 with the stream's first S frames and cycles
/// S…W−1 after that; `merge` cycles like `fifo` but first tries to fold the frame into the newest slot.
///
/// Eviction: when a slot is overwritten, its tokens (owner 0's excepted) are first folded into
/// `pinned`, the running means of each owner's evicted keys and values (`PinnedMemory`, sized by
/// `config.association.pinnedOwners`; nothing is kept when that is 0), which association reads for
/// owners gone longer than W (`OwnerAssociation`).
///
/// Invariants: all arrays are allocated in `init` and never resized; `memoryBytes` (element counts)
/// equals `config.memoryBytes` and `allocatedBytes` (capacities) stays constant for the window's life; admitted frame
/// indices strictly increase. Thread-safety: a value type; one stream, one thread.
public struct KVWindow: Sendable {
    /// Shape, policy and storage.
    public let config: KVWindowConfig
    /// Rotated keys, `[W·(1+M), kvHeads·headDim]`.
    public private(set) var keys: KVRowStore
    /// Values, same layout as `keys`.
    public private(set) var values: KVRowStore
    private var slotFirstFrame: [Int]
    private var slotLastFrame: [Int]
    private var slotSequence: [Int]
    private var slotTime: [Double]
    private var slotWeight: [Float]
    private var slotTokenCount: [Int]
    private var tokenOwner: [Int32]
    /// `merge` only: the newest slot's un-rotated keys (running mean, f32), compared with new frames.
    private var newestContent: Tensor
    /// `merge` with f16/int8 storage only: the newest slot's rotated keys and values as exact f32
    /// running means, so a merged slot is quantised once from the exact mean instead of
    /// re-quantising its previous (already rounded) contents at every merge, which let rounding
    /// error build up to (α·w + 1) half-steps.
    private var newestKeys: Tensor
    private var newestValues: Tensor
    /// Running means of evicted tokens per owner (`config.association.pinnedOwners` entries).
    public private(set) var pinned: PinnedMemory
    private var nextSequence = 0
    private var ringCursor = 0
    private var newest: Int?
    /// Frames admitted so far (merged ones included).
    public private(set) var framesAdmitted = 0
    /// Index of the last admitted frame, or nil before the first.
    public private(set) var lastFrame: Int?

    /// What `admit` did with a frame.
    public struct Admission: Sendable, Equatable {
        /// The slot that now holds the frame.
        public var slot: Int
        /// True when the frame was merged into an existing slot (`merge` policy).
        public var merged: Bool
    }

    /// A resident slot's bookkeeping.
    public struct Slot: Sendable, Equatable {
        public var index: Int
        /// First and last frame index the slot holds (equal unless merged).
        public var firstFrame: Int
        public var lastFrame: Int
        /// Time (seconds) of the last frame written into the slot.
        public var time: Double
        /// Frames the slot counts as (1 unless merged; `α·w + 1` per merge).
        public var weight: Float
        /// Valid token rows (scene token first).
        public var tokenCount: Int
        /// Owner of each valid token.
        public var owners: [Int]
    }

    /// Allocates the whole window; throws when the config is invalid.
    public init(config: KVWindowConfig) throws(TemporalError) {
        try config.validate()
        self.config = config
        let rows = config.tokenRows, w = config.window
        keys = KVRowStore(format: config.storage, rows: rows, heads: config.kvHeads, headDim: config.headDim,
                          channelGroup: config.keyChannelGroup)
        values = KVRowStore(format: config.storage, rows: rows, heads: config.kvHeads, headDim: config.headDim)
        slotFirstFrame = [Int](repeating: -1, count: w)
        slotLastFrame = [Int](repeating: -1, count: w)
        slotSequence = [Int](repeating: -1, count: w)
        slotTime = [Double](repeating: 0, count: w)
        slotWeight = [Float](repeating: 0, count: w)
        slotTokenCount = [Int](repeating: 0, count: w)
        tokenOwner = [Int32](repeating: 0, count: rows)
        let isMerge: Bool = if case .merge = config.policy { true } else { false }
        let width = config.kvHeads * config.headDim
        newestContent = Tensor(shape: [isMerge ? config.tokensPerFrame : 0, width])
        let accumulate = isMerge && config.storage != .f32
        newestKeys = Tensor(shape: [accumulate ? config.tokensPerFrame : 0, width])
        newestValues = Tensor(shape: [accumulate ? config.tokensPerFrame : 0, width])
        pinned = PinnedMemory(capacity: config.association.pinnedOwners, width: width)
    }

    /// Bytes of the window's storage: element count × stride summed over every array it allocated
    /// in `init` (K/V, scales, owners, bookkeeping, merge reference). Equals `config.memoryBytes`.
    public var memoryBytes: Int { byteCount { count, _ in count } }

    /// Bytes the allocator actually handed out for those arrays (their capacities): at least
    /// `memoryBytes`, larger only by the allocator's size rounding, and constant for the window's life.
    public var allocatedBytes: Int { byteCount { _, capacity in capacity } }

    private func byteCount(_ pick: (_ count: Int, _ capacity: Int) -> Int) -> Int {
        func b<T>(_ a: [T]) -> Int { pick(a.count, a.capacity) * MemoryLayout<T>.stride }
        return keys.byteCount(pick) + values.byteCount(pick) + b(slotFirstFrame) + b(slotLastFrame) + b(slotSequence)
            + b(slotTime) + b(slotWeight) + b(slotTokenCount) + b(tokenOwner) + b(newestContent.storage)
            + b(newestKeys.storage) + b(newestValues.storage) + pinned.byteCount(pick)
    }

    /// Empties every slot (storage keeps its allocation; stale rows are masked by bookkeeping).
    public mutating func reset() {
        for s in 0..<config.window {
            slotFirstFrame[s] = -1
            slotLastFrame[s] = -1
            slotSequence[s] = -1
            slotWeight[s] = 0
            slotTokenCount[s] = 0
        }
        nextSequence = 0
        ringCursor = 0
        newest = nil
        pinned.reset()
        framesAdmitted = 0
        lastFrame = nil
    }

    /// Slots currently holding frames.
    public var residentSlots: Int { slotFirstFrame.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// Resident slot indices, oldest first (by when the slot was last (re)filled; a merged slot
    /// keeps its place).
    public func temporalOrder() -> [Int] {
        (0..<config.window).filter { slotFirstFrame[$0] >= 0 }.sorted { slotSequence[$0] < slotSequence[$1] }
    }

    /// Bookkeeping of slot `index`, or nil when it is empty or out of range.
    public func slot(_ index: Int) -> Slot? {
        guard index >= 0, index < config.window, slotFirstFrame[index] >= 0 else { return nil }
        let t = config.tokensPerFrame, n = slotTokenCount[index]
        return Slot(index: index, firstFrame: slotFirstFrame[index], lastFrame: slotLastFrame[index],
                    time: slotTime[index], weight: slotWeight[index], tokenCount: n,
                    owners: (0..<n).map { Int(tokenOwner[index * t + $0]) })
    }

    /// Owner id of token row `row` (meaningful only for rows `fillBias` leaves finite).
    func owner(row: Int) -> Int { Int(tokenOwner[row]) }

    /// Writes one frame: rows `rows` (default: all) of `keys` (rotated) and `values`, tensors of
    /// `kvHeads·headDim` columns, are its 1 ≤ n ≤ 1 + M tokens; `contentKeys` holds the same keys
    /// before rotation (used by `merge` to measure similarity); `owners` one id per token (each
    /// within Int32).
    @discardableResult
    public mutating func admit(frame: Int, time: Double, owners: [Int], keys newKeys: Tensor, values newValues: Tensor,
                               contentKeys: Tensor, rows: Range<Int>? = nil) throws(TemporalError) -> Admission {
        let width = config.kvHeads * config.headDim, t = config.tokensPerFrame
        let total = newKeys.rank == 2 ? newKeys.shape[0] : -1
        let rows = rows ?? 0..<max(0, total)
        let n = rows.count, r0 = rows.lowerBound
        guard n >= 1, n <= t, rows.lowerBound >= 0, rows.upperBound <= total, newKeys.shape == [total, width],
              newValues.shape == [total, width], contentKeys.shape == [total, width] else {
            throw .tokens(frame: frame, expected: "[1...\(t), \(width)] keys, values and content keys", found: newKeys.shape)
        }
        guard owners.count == n else { throw .owners(frame: frame, reason: "\(owners.count) owners for \(n) tokens") }
        guard owners.allSatisfy({ Int32(exactly: $0) != nil }) else {
            throw .owners(frame: frame, reason: "owner id outside the 32-bit range")
        }
        if let lastFrame, frame <= lastFrame { throw .frameOrder(frame: frame, previous: lastFrame) }

        do {
            if case let .merge(threshold, alpha) = config.policy, let s = newest,
               canMerge(into: s, owners: owners, contentKeys: contentKeys, firstRow: r0, threshold: threshold) {
                let w = slotWeight[s]
                let newWeight = alpha * w + 1
                let keep = alpha * w / newWeight, add = 1 / newWeight
                Self.blend(&newestContent, keep: keep, add: add, from: contentKeys, firstRow: r0, rows: n)
                if newestKeys.count > 0 {
                    Self.blend(&newestKeys, keep: keep, add: add, from: newKeys, firstRow: r0, rows: n)
                    Self.blend(&newestValues, keep: keep, add: add, from: newValues, firstRow: r0, rows: n)
                    try keys.blendRows(first: s * t, keep: 0, add: 1, from: newestKeys, sourceRows: 0..<n)
                    try values.blendRows(first: s * t, keep: 0, add: 1, from: newestValues, sourceRows: 0..<n)
                } else {
                    try keys.blendRows(first: s * t, keep: keep, add: add, from: newKeys, sourceRows: rows)
                    try values.blendRows(first: s * t, keep: keep, add: add, from: newValues, sourceRows: rows)
                }
                slotWeight[s] = newWeight
                slotLastFrame[s] = frame
                slotTime[s] = time
                framesAdmitted += 1
                lastFrame = frame
                return Admission(slot: s, merged: true)
            }
            let s = nextSlot()
            evict(slot: s)
            try keys.blendRows(first: s * t, keep: 0, add: 1, from: newKeys, sourceRows: rows)
            try values.blendRows(first: s * t, keep: 0, add: 1, from: newValues, sourceRows: rows)
            for i in 0..<n { tokenOwner[s * t + i] = Int32(owners[i]) }
            if newestContent.count > 0 { Self.blend(&newestContent, keep: 0, add: 1, from: contentKeys, firstRow: r0, rows: n) }
            if newestKeys.count > 0 {
                Self.blend(&newestKeys, keep: 0, add: 1, from: newKeys, firstRow: r0, rows: n)
                Self.blend(&newestValues, keep: 0, add: 1, from: newValues, firstRow: r0, rows: n)
            }
            slotFirstFrame[s] = frame
            slotLastFrame[s] = frame
            slotTime[s] = time
            slotWeight[s] = 1
            slotTokenCount[s] = n
            slotSequence[s] = nextSequence
            nextSequence += 1
            newest = s
            framesAdmitted += 1
            lastFrame = frame
            return Admission(slot: s, merged: false)
        } catch {
            throw .kernel(frame: frame, underlying: error)
        }
    }

    /// Folds the tokens of slot `s`, about to be overwritten, into the pinned memory (row order;
    /// each token with the slot's merge weight).
    private mutating func evict(slot s: Int) {
        guard pinned.capacity > 0, slotFirstFrame[s] >= 0 else { return }
        let t = config.tokensPerFrame
        for i in 0..<slotTokenCount[s] {
            pinned.fold(owner: tokenOwner[s * t + i], keys: keys, values: values, row: s * t + i, weight: slotWeight[s])
        }
    }

    /// Resident tokens of `owner` and their total weight (Σ of their slots' merge weights; equal to
    /// the token count unless `merge` folded frames).
    public func residentTokens(of owner: Int) -> (count: Int, weight: Float) {
        guard let o = Int32(exactly: owner) else { return (0, 0) }
        let t = config.tokensPerFrame
        var count = 0, weight: Float = 0
        for s in 0..<config.window where slotFirstFrame[s] >= 0 {
            for k in 0..<slotTokenCount[s] where tokenOwner[s * t + k] == o {
                count += 1
                weight += slotWeight[s]
            }
        }
        return (count, weight)
    }

    /// Owners with at least one resident token, ascending (owner 0, the scene, included).
    public func residentOwners() -> [Int] {
        let t = config.tokensPerFrame
        var seen = Set<Int>()
        for s in 0..<config.window where slotFirstFrame[s] >= 0 {
            for k in 0..<slotTokenCount[s] { seen.insert(Int(tokenOwner[s * t + k])) }
        }
        return seen.sorted()
    }

    /// Calls `body(row, weight, owner)` for every filled token row — its slot's merge weight and
    /// its owner — in increasing row order, without visiting empty rows.
    func forEachFilledRow(_ body: (Int, Float, Int) -> Void) {
        let t = config.tokensPerFrame
        for s in 0..<config.window where slotFirstFrame[s] >= 0 {
            let w = slotWeight[s]
            for k in 0..<slotTokenCount[s] { body(s * t + k, w, Int(tokenOwner[s * t + k])) }
        }
    }

    /// The slot the policy gives to a frame that is not merged.
    private mutating func nextSlot() -> Int {
        switch config.policy {
        case .fifo, .merge:
            let s = ringCursor
            ringCursor = (ringCursor + 1) % config.window
            return s
        case let .sinks(count):
            if nextSequence < count { return nextSequence }
            let s = count + ringCursor
            ringCursor = (ringCursor + 1) % (config.window - count)
            return s
        }
    }

    /// First `rows` rows of `acc` ← `keep · acc + add · source[firstRow…]` (same column count).
    private static func blend(_ acc: inout Tensor, keep: Float, add: Float, from source: Tensor, firstRow: Int, rows: Int) {
        let width = acc.shape[1], offset = firstRow * width
        for e in 0..<(rows * width) {
            acc.storage[e] = keep == 0 ? add * source.storage[offset + e] : keep * acc.storage[e] + add * source.storage[offset + e]
        }
    }

    /// True when the frame matches slot `s` token for token (count, owners, cosine of un-rotated keys).
    private func canMerge(into s: Int, owners: [Int], contentKeys: Tensor, firstRow r0: Int, threshold: Float) -> Bool {
        let t = config.tokensPerFrame, n = owners.count, width = config.kvHeads * config.headDim
        guard slotTokenCount[s] == n else { return false }
        for i in 0..<n where tokenOwner[s * t + i] != Int32(owners[i]) { return false }
        for i in 0..<n {
            var dot: Float = 0, aa: Float = 0, bb: Float = 0
            for c in 0..<width {
                let a = contentKeys.storage[(r0 + i) * width + c]
                let b = newestContent.storage[i * width + c]
                dot += a * b
                aa += a * a
                bb += b * b
            }
            let cosine: Float = (aa == 0 && bb == 0) ? 1 : (aa == 0 || bb == 0) ? 0 : dot / (aa.squareRoot() * bb.squareRoot())
            if !(cosine >= threshold) { return false }
        }
        return true
    }

    /// `.sameOwner`'s bias as row lists: query i's list holds the filled rows whose owner is
    /// `queryOwners[i]`, ascending, each with `logf(weight)` — exactly the entries of `fillBias`'s
    /// row i that are not −∞, in the same order (`WindowAttention.attend(…lists:…)` reads them
    /// without the `[n, rows]` matrix). One pass over the filled rows per query, nothing allocated
    /// beyond the lists' capacity.
    public func fillOwnerLists(queryOwners: [Int], into lists: inout WindowRowLists) {
        lists.reset(queries: queryOwners.count)
        for queryOwner in queryOwners {
            let owner = Int(Int32(truncatingIfNeeded: queryOwner))
            forEachFilledRow { j, weight, rowOwner in
                guard rowOwner == owner else { return }
                lists.rows.append(Int32(truncatingIfNeeded: j))
                lists.bias.append(logf(weight))
            }
            lists.starts.append(lists.rows.count)
        }
    }

    /// Fills `bias` (`[queryOwners.count, tokenRows]`) with each key's additive score: −∞ for
    /// empty rows and for keys the restriction hides from that query, `log(weight)` otherwise.
    public func fillBias(queryOwners: [Int], restriction: AttentionRestriction, into bias: inout Tensor) {
        let n = queryOwners.count, r = config.tokenRows, t = config.tokensPerFrame
        bias.resize([n, r])
        guard n > 0 else { return }
        if case .sameOwner = restriction {
            // Each visible row goes to the queries of its owner only, every other entry is −∞: one
            // pass over the filled rows instead of a compare per query and row (the same values).
            bias.storage.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
            forEachFilledRow { j, weight, owner in
                for i in 0..<n where Int(Int32(truncatingIfNeeded: queryOwners[i])) == owner { bias.storage[i * r + j] = logf(weight) }
            }
            return
        }
        // Row 0: validity, merge weight and (for .owners) the owner filter, the same for every query.
        for s in 0..<config.window {
            let filled = slotFirstFrame[s] >= 0
            let base: Float = filled ? logf(slotWeight[s]) : -.infinity
            for k in 0..<t {
                let j = s * t + k
                var visible = filled && k < slotTokenCount[s]
                if case let .owners(list) = restriction, visible { visible = list.contains(Int(tokenOwner[j])) }
                bias.storage[j] = visible ? base : -.infinity
            }
        }
        for i in 1..<n {
            for j in 0..<r { bias.storage[i * r + j] = bias.storage[j] }
        }
    }
}
