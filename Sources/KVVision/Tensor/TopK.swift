/// The k largest of a list of Floats, ranked deterministically, with reusable buffers.
///
/// Ranking: larger value first; NaN ranks above every number (as `torch.topk` does); equal values
/// (and NaNs among themselves) by ascending index. `torch.topk` returns the same values and,
/// where the values differ, the same indices; among exactly equal values its order is an
/// implementation detail (observed on PyTorch 2.15 CPU: equal values at indices 5, 500, 884, 999
/// come out as 999, 884, 5, 500), so kvvision fixes ascending index there and the tests compare
/// tied groups as sets.
///
/// Cost: O(n log k) with a k-entry heap, then O(k log k) to order it; `select` allocates nothing
/// once the buffers have reached capacity k.
///
/// Invariants: after `select`, `indices.count == values.count == min(k, n)`, in rank order.
/// Thread-safety: a value type; one owner mutates it.
public struct TopK: Sendable {
    /// Indices (into the input) of the selected elements, best first.
    public private(set) var indices: [Int] = []
    /// Their values, best first.
    public private(set) var values: [Float] = []

    public init(capacity: Int = 0) {
        indices.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    /// True when (a, i) ranks before (b, j).
    @inline(__always)
    public static func precedes(_ a: Float, _ i: Int, _ b: Float, _ j: Int) -> Bool {
        if a.isNaN || b.isNaN {
            if a.isNaN && b.isNaN { return i < j }
            return a.isNaN
        }
        return a > b || (a == b && i < j)
    }

    /// Selects the top `k` of `input` (any shape, flattened row-major).
    public mutating func select(_ input: Tensor, k: Int) {
        input.storage.withUnsafeBufferPointer { select($0, k: k) }
    }

    /// Selects the top `k` of `input`.
    public mutating func select(_ input: UnsafeBufferPointer<Float>, k: Int) {
        indices.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        let k = min(max(0, k), input.count)
        guard k > 0 else { return }
        // Min-heap on rank: the root is the worst of the kept elements.
        for i in 0..<input.count {
            let v = input[i]
            if indices.count < k {
                indices.append(i)
                values.append(v)
                siftUp(indices.count - 1)
            } else if Self.precedes(v, i, values[0], indices[0]) {
                values[0] = v
                indices[0] = i
                siftDown(0)
            }
        }
        // Heap-sort in place: repeatedly move the worst to the end.
        var end = k
        while end > 1 {
            end -= 1
            values.swapAt(0, end)
            indices.swapAt(0, end)
            siftDown(0, count: end)
        }
    }

    /// True when heap entry a is worse (ranks after) entry b.
    @inline(__always)
    private func worse(_ a: Int, _ b: Int) -> Bool { Self.precedes(values[b], indices[b], values[a], indices[a]) }

    private mutating func siftUp(_ start: Int) {
        var c = start
        while c > 0 {
            let p = (c - 1) / 2
            guard worse(c, p) else { return }
            values.swapAt(c, p)
            indices.swapAt(c, p)
            c = p
        }
    }

    private mutating func siftDown(_ start: Int, count: Int? = nil) {
        let n = count ?? indices.count
        var p = start
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < n, worse(l, m) { m = l }
            if r < n, worse(r, m) { m = r }
            guard m != p else { return }
            values.swapAt(m, p)
            indices.swapAt(m, p)
            p = m
        }
    }
}
