/// A bounded summary of tokens evicted from a KV window, per owner: the running weighted mean of
/// their keys and values and the total weight — what association keeps of a track that has been
/// away longer than the window.
///
/// Folding a token of weight w (a slot's merge weight, 1 unless merged) with key k into an entry
/// (k̄, m): `k̄ ← k̄ + w/(m + w)·(k − k̄)`, likewise v̄, `m ← m + w` — so k̄ is the weighted mean of
/// every evicted key of that owner since the entry was created. Keys are the stored (rotated,
/// dequantised) ones: the mean is meaningful for heads without temporal RoPE (association's).
/// Owner 0 (the scene token by convention) is never pinned. Capacity L entries; a new owner when
/// all are taken replaces the entry updated least recently (by fold order).
///
/// Invariants: every array is allocated in `init` and never resized; entries with weight 0 are free.
/// Thread-safety: a value type owned by one `KVWindow`.
public struct PinnedMemory: Sendable {
    /// Entries (L).
    public let capacity: Int
    /// Channels per key / value (`kvHeads · headDim`).
    public let width: Int
    private var owners: [Int32]
    private var weights: [Double]
    private var stamps: [Int]
    var keyMeans: [Float]
    var valueMeans: [Float]
    private var clock = 0

    /// One owner's pinned memory (copied out; for inspection and tests).
    public struct Entry: Sendable, Equatable {
        public var owner: Int
        /// Total weight m of the evicted tokens it summarises.
        public var weight: Double
        public var key: [Float]
        public var value: [Float]
    }

    init(capacity: Int, width: Int) {
        self.capacity = capacity
        self.width = width
        owners = [Int32](repeating: 0, count: capacity)
        weights = [Double](repeating: 0, count: capacity)
        stamps = [Int](repeating: 0, count: capacity)
        keyMeans = [Float](repeating: 0, count: capacity * width)
        valueMeans = [Float](repeating: 0, count: capacity * width)
    }

    func byteCount(_ pick: (_ count: Int, _ capacity: Int) -> Int) -> Int {
        func b<T>(_ a: [T]) -> Int { pick(a.count, a.capacity) * MemoryLayout<T>.stride }
        return b(owners) + b(weights) + b(stamps) + b(keyMeans) + b(valueMeans)
    }

    mutating func reset() {
        for e in 0..<capacity { weights[e] = 0; owners[e] = 0 }
        clock = 0
    }

    /// Entry index of `owner`, or nil.
    func entry(of owner: Int32) -> Int? {
        for e in 0..<capacity where weights[e] > 0 && owners[e] == owner { return e }
        return nil
    }

    /// Weight m of entry `e`.
    func weight(_ e: Int) -> Double { weights[e] }

    /// Owners pinned now, ascending.
    public var pinnedOwners: [Int] { (0..<capacity).filter { weights[$0] > 0 }.map { Int(owners[$0]) }.sorted() }

    /// The memory of `owner`, or nil when it has none.
    public func memory(of owner: Int) -> Entry? {
        guard let o = Int32(exactly: owner), let e = entry(of: o) else { return nil }
        return Entry(owner: owner, weight: weights[e], key: Array(keyMeans[(e * width)..<((e + 1) * width)]),
                     value: Array(valueMeans[(e * width)..<((e + 1) * width)]))
    }

    /// Folds row `row` of `keys` / `values` (owner `owner`, weight `w`) into the owner's entry.
    mutating func fold(owner: Int32, keys: KVRowStore, values: KVRowStore, row: Int, weight w: Float) {
        guard capacity > 0, owner != 0, w > 0 else { return }
        let e: Int
        if let found = entry(of: owner) {
            e = found
        } else {
            var pick = 0
            for i in 0..<capacity {
                if weights[i] == 0 { pick = i; break }
                if stamps[i] < stamps[pick] { pick = i }
            }
            e = pick
            owners[e] = owner
            weights[e] = 0
        }
        let fresh = weights[e] == 0
        let m = weights[e] + Double(w)
        let a = Float(Double(w) / m)
        let hd = keys.headDim
        for h in 0..<keys.heads {
            for c in 0..<hd {
                let i = e * width + h * hd + c
                let k = keys.element(row: row, head: h, channel: c), v = values.element(row: row, head: h, channel: c)
                if fresh {
                    keyMeans[i] = k
                    valueMeans[i] = v
                } else {
                    keyMeans[i] += a * (k - keyMeans[i])
                    valueMeans[i] += a * (v - valueMeans[i])
                }
            }
        }
        weights[e] = m
        clock += 1
        stamps[e] = clock
    }
}
