import CKernels

/// Element format of cached keys and values.
public enum KVStorageFormat: String, Codable, Sendable, CaseIterable {
    /// 32-bit floats: exact.
    case f32
    /// IEEE half floats: 11-bit mantissa, relative error ≤ 2⁻¹¹ per element.
    case f16
    /// Signed bytes with one Float scale per (row, head): symmetric, `x ≈ q · scale`,
    /// `scale = max|x| / 127` over the head's channels, absolute error ≤ scale / 2 per element.
    case int8
}

/// A fixed number of rows, each `heads × headDim` values, stored as f32, f16 or int8 — the
/// backing store of a KV window's keys or values.
///
/// Layout: row-major `[rows, heads, headDim]` in the format's array; for int8 a parallel
/// `[rows, heads]` Float array of scales (per-token, per-head symmetric quantisation), or, with
/// `channelGroup` G > 0 (KIVI-style keys), `[rows / G, heads, headDim]`: one scale per channel per
/// group of G rows (a frame slot), so an outlier channel no longer coarsens the others; grouped
/// stores are written a whole group at a time (`blendRows`). All storage
/// is allocated in `init` and never grows: `storedBytes` equals `bytes(format:rows:heads:headDim:)`;
/// `allocatedBytes` (capacities) adds only the allocator's rounding.
///
/// Thread-safety: a value type; mutate from one thread.
public struct KVRowStore: Sendable {
    /// Element format.
    public let format: KVStorageFormat
    /// Number of rows (tokens).
    public let rows: Int
    /// Heads per row.
    public let heads: Int
    /// Channels per head.
    public let headDim: Int
    var f32: [Float]
    var f16: [Float16]
    var i8: [Int8]
    var scales: [Float]
    /// Rows per per-channel scale group (int8 only); 0 = per-token scales.
    public let channelGroup: Int

    /// Channels per row (`heads · headDim`).
    public var width: Int { heads * headDim }

    /// Allocates zeroed storage. `channelGroup` > 0 (int8 only, dividing `rows`) selects per-channel
    /// scales per group of that many rows; otherwise it is ignored.
    public init(format: KVStorageFormat, rows: Int, heads: Int, headDim: Int, channelGroup: Int = 0) {
        self.format = format
        self.rows = max(0, rows)
        self.heads = max(0, heads)
        self.headDim = max(0, headDim)
        self.channelGroup = Self.group(format: format, rows: self.rows, channelGroup: channelGroup)
        let n = self.rows * self.heads * self.headDim
        f32 = format == .f32 ? [Float](repeating: 0, count: n) : []
        f16 = format == .f16 ? [Float16](repeating: 0, count: n) : []
        i8 = format == .int8 ? [Int8](repeating: 0, count: n) : []
        scales = [Float](repeating: 0, count: Self.scaleCount(format: format, rows: self.rows, heads: self.heads,
                                                              headDim: self.headDim, channelGroup: self.channelGroup))
    }

    private static func group(format: KVStorageFormat, rows: Int, channelGroup: Int) -> Int {
        format == .int8 && channelGroup > 0 && rows % channelGroup == 0 ? channelGroup : 0
    }

    private static func scaleCount(format: KVStorageFormat, rows: Int, heads: Int, headDim: Int, channelGroup: Int) -> Int {
        guard format == .int8 else { return 0 }
        return channelGroup > 0 ? rows / channelGroup * heads * headDim : rows * heads
    }

    /// Bytes a store of this shape occupies (elements plus int8 scales).
    public static func bytes(format: KVStorageFormat, rows: Int, heads: Int, headDim: Int, channelGroup: Int = 0) -> Int {
        let n = rows * heads * headDim
        let scaleBytes = scaleCount(format: format, rows: rows, heads: heads, headDim: headDim,
                                    channelGroup: group(format: format, rows: rows, channelGroup: channelGroup)) * MemoryLayout<Float>.stride
        switch format {
        case .f32: return n * MemoryLayout<Float>.stride
        case .f16: return n * MemoryLayout<Float16>.stride
        case .int8: return n * MemoryLayout<Int8>.stride + scaleBytes
        }
    }

    /// Bytes of the stored elements and scales (element counts × stride); equals `bytes(format:…)`.
    public var storedBytes: Int { byteCount { count, _ in count } }

    /// Bytes the allocator handed out (array capacities): `storedBytes` plus allocator rounding.
    public var allocatedBytes: Int { byteCount { _, capacity in capacity } }

    /// Sums `pick(count, capacity) × stride` over the backing arrays.
    public func byteCount(_ pick: (_ count: Int, _ capacity: Int) -> Int) -> Int {
        func b<T>(_ a: [T]) -> Int { pick(a.count, a.capacity) * MemoryLayout<T>.stride }
        return b(f32) + b(f16) + b(i8) + b(scales)
    }

    /// Stores row `sourceRow` of `source` (a `[n, width]` tensor) into `row`, quantising as needed.
    public mutating func store(row: Int, from source: Tensor, sourceRow: Int) throws(TensorError) {
        try blend(row: row, keep: 0, add: 1, from: source, sourceRow: sourceRow)
    }

    /// Rows `first ..< first + sourceRows.count` ← `keep · old + add · source[sourceRows]`. For a
    /// grouped (per-channel) store `first` must start a group and the rows fit in it; the group's
    /// scales are recomputed from these rows (rows of the group past them are left stale — callers
    /// mask them).
    public mutating func blendRows(first: Int, keep: Float, add: Float, from source: Tensor, sourceRows: Range<Int>) throws(TensorError) {
        guard channelGroup > 0 else {
            for (i, r) in sourceRows.enumerated() { try blend(row: first + i, keep: keep, add: add, from: source, sourceRow: r) }
            return
        }
        let w = width, n = sourceRows.count, g = channelGroup
        guard first >= 0, first % g == 0, n <= g, first + n <= rows, source.rank == 2, source.shape[1] == w,
              sourceRows.lowerBound >= 0, sourceRows.upperBound <= source.shape[0] else {
            throw .shapeMismatch(op: "kv group write at row \(first) (groups of \(g) rows)", expected: [rows, w], found: source.shape)
        }
        guard n > 0 else { return }
        let hd = headDim, nh = heads, scaleBase = first / g * nh * hd, r0 = sourceRows.lowerBound
        source.storage.withUnsafeBufferPointer { sp in
            i8.withUnsafeMutableBufferPointer { dp in
                scales.withUnsafeMutableBufferPointer { scp in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { column in
                        withUnsafeTemporaryAllocation(of: Int8.self, capacity: n) { quantised in
                            for h in 0..<nh {
                                for c in 0..<hd {
                                    let e = h * hd + c, si = scaleBase + e
                                    var maxAbs: Float = 0
                                    for i in 0..<n {
                                        var x = add * sp[(r0 + i) * w + e]
                                        if keep != 0 { x += keep * Float(dp[(first + i) * w + e]) * scp[si] }
                                        column[i] = x
                                        maxAbs = max(maxAbs, abs(x))
                                    }
                                    Int8Quantization.quantize(column.baseAddress!, count: n, maxAbs: maxAbs,
                                                              into: quantised.baseAddress!, scale: &scp[si])
                                    for i in 0..<n { dp[(first + i) * w + e] = quantised[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `row ← keep · row + add · source[sourceRow]`, computed in f32 and stored back in the format
    /// (int8 rows are re-quantised with a fresh scale). `keep == 0` ignores the old contents.
    /// Per-token stores only; a grouped store is written with `blendRows`.
    public mutating func blend(row: Int, keep: Float, add: Float, from source: Tensor, sourceRow: Int) throws(TensorError) {
        let w = width
        guard channelGroup == 0, row >= 0, row < rows, source.rank == 2, source.shape[1] == w, sourceRow >= 0,
              sourceRow < source.shape[0] else {
            throw .shapeMismatch(op: "kv store row \(row)\(channelGroup > 0 ? " (grouped store: use blendRows)" : "")",
                                 expected: [rows, w], found: source.shape)
        }
        let hd = headDim, nh = heads
        source.storage.withUnsafeBufferPointer { sp in
            let src = sp.baseAddress! + sourceRow * w
            switch format {
            case .f32:
                f32.withUnsafeMutableBufferPointer { dp in
                    let dst = dp.baseAddress! + row * w
                    if keep == 0 { for c in 0..<w { dst[c] = add * src[c] } }
                    else { for c in 0..<w { dst[c] = keep * dst[c] + add * src[c] } }
                }
            case .f16:
                f16.withUnsafeMutableBufferPointer { dp in
                    let dst = dp.baseAddress! + row * w
                    if keep == 0 { for c in 0..<w { dst[c] = Float16(add * src[c]) } }
                    else { for c in 0..<w { dst[c] = Float16(keep * Float(dst[c]) + add * src[c]) } }
                }
            case .int8:
                i8.withUnsafeMutableBufferPointer { dp in
                    scales.withUnsafeMutableBufferPointer { scp in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: hd) { tmp in
                            for h in 0..<nh {
                                let dst = dp.baseAddress! + row * w + h * hd
                                let s = src + h * hd
                                let oldScale = scp[row * nh + h]
                                var maxAbs: Float = 0
                                for c in 0..<hd {
                                    var x = add * s[c]
                                    if keep != 0 { x += keep * Float(dst[c]) * oldScale }
                                    tmp[c] = x
                                    maxAbs = max(maxAbs, abs(x))
                                }
                                Int8Quantization.quantize(tmp.baseAddress!, count: hd, maxAbs: maxAbs,
                                                          into: dst, scale: &scp[row * nh + h])
                            }
                        }
                    }
                }
            }
        }
    }

    /// Dequantised copy of `row` into row `destinationRow` of `destination` (`[n, width]`).
    public func load(row: Int, into destination: inout Tensor, destinationRow: Int) throws(TensorError) {
        let w = width
        guard row >= 0, row < rows, destination.rank == 2, destination.shape[1] == w,
              destinationRow >= 0, destinationRow < destination.shape[0] else {
            throw .shapeMismatch(op: "kv load row \(row)", expected: [rows, w], found: destination.shape)
        }
        let hd = headDim
        destination.storage.withUnsafeMutableBufferPointer { dp in
            let dst = dp.baseAddress! + destinationRow * w
            for h in 0..<heads {
                for c in 0..<hd { dst[h * hd + c] = element(row: row, head: h, channel: c) }
            }
        }
    }

    /// Bytes per stored element (4, 2 or 1).
    var elementSize: Int {
        switch format {
        case .f32: 4
        case .f16: 2
        case .int8: 1
        }
    }

    /// Calls `body` with the CKernels format code (`KVV_KV_*`), the elements' base address (step
    /// by `elementSize` bytes) and, for per-token int8, the `[rows, heads]` scales (nil otherwise).
    func withElements<T>(_ body: (Int32, UnsafeRawPointer, UnsafePointer<Float>?) -> T) -> T {
        switch format {
        case .f32: return f32.withUnsafeBytes { body(KVV_KV_F32, $0.baseAddress!, nil) }
        case .f16: return f16.withUnsafeBytes { body(KVV_KV_F16, $0.baseAddress!, nil) }
        case .int8:
            return i8.withUnsafeBytes { ep in scales.withUnsafeBufferPointer { sp in body(KVV_KV_I8, ep.baseAddress!, sp.baseAddress!) } }
        }
    }

    /// One dequantised element (slow path for bookkeeping and tests).
    @inline(__always)
    func element(row: Int, head: Int, channel: Int) -> Float {
        let i = (row * heads + head) * headDim + channel
        switch format {
        case .f32: return f32[i]
        case .f16: return Float(f16[i])
        case .int8:
            let s = channelGroup > 0 ? scales[(row / channelGroup * heads + head) * headDim + channel] : scales[row * heads + head]
            return Float(i8[i]) * s
        }
    }
}
