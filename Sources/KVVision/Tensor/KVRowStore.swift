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
/// `[rows, heads]` Float array of scales (per-token, per-head symmetric quantisation). All storage
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

    /// Channels per row (`heads · headDim`).
    public var width: Int { heads * headDim }

    /// Allocates zeroed storage.
    public init(format: KVStorageFormat, rows: Int, heads: Int, headDim: Int) {
        self.format = format
        self.rows = max(0, rows)
        self.heads = max(0, heads)
        self.headDim = max(0, headDim)
        let n = self.rows * self.heads * self.headDim
        f32 = format == .f32 ? [Float](repeating: 0, count: n) : []
        f16 = format == .f16 ? [Float16](repeating: 0, count: n) : []
        i8 = format == .int8 ? [Int8](repeating: 0, count: n) : []
        scales = format == .int8 ? [Float](repeating: 0, count: self.rows * self.heads) : []
    }

    /// Bytes a store of this shape occupies (elements plus int8 scales).
    public static func bytes(format: KVStorageFormat, rows: Int, heads: Int, headDim: Int) -> Int {
        let n = rows * heads * headDim
        switch format {
        case .f32: return n * MemoryLayout<Float>.stride
        case .f16: return n * MemoryLayout<Float16>.stride
        case .int8: return n * MemoryLayout<Int8>.stride + rows * heads * MemoryLayout<Float>.stride
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

    /// `row ← keep · row + add · source[sourceRow]`, computed in f32 and stored back in the format
    /// (int8 rows are re-quantised with a fresh scale). `keep == 0` ignores the old contents.
    public mutating func blend(row: Int, keep: Float, add: Float, from source: Tensor, sourceRow: Int) throws(TensorError) {
        let w = width
        guard row >= 0, row < rows, source.rank == 2, source.shape[1] == w, sourceRow >= 0, sourceRow < source.shape[0] else {
            throw .shapeMismatch(op: "kv store row \(row)", expected: [rows, w], found: source.shape)
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

    /// One dequantised element (slow path for bookkeeping and tests).
    @inline(__always)
    func element(row: Int, head: Int, channel: Int) -> Float {
        let i = (row * heads + head) * headDim + channel
        switch format {
        case .f32: return f32[i]
        case .f16: return Float(f16[i])
        case .int8: return Float(i8[i]) * scales[row * heads + head]
        }
    }
}
