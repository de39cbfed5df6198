/// Element-wise activations: exact (erf) GELU, optionally fused with a per-column bias add.
///
/// Thread-safety: stateless; rows are split over the given pool.
public enum Activation {
    /// In place: `x = gelu(x + bias)` where `bias` (if given) has one value per trailing column.
    public static func gelu(_ x: inout Tensor, bias: Tensor? = nil, pool: ThreadPool = Parallel.pool) throws(TensorError) {
        let cols = x.shape.last ?? 0
        if let bias, bias.count != cols { throw .shapeMismatch(op: "gelu bias", expected: [cols], found: bias.shape) }
        guard cols > 0 else { return }
        let rows = x.count / cols
        x.storage.withUnsafeMutableBufferPointer { xp in
            if let bias {
                bias.storage.withUnsafeBufferPointer { bp in
                    geluRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, bias: bp.baseAddress!, pool: pool)
                }
            } else {
                geluRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, bias: nil, pool: pool)
            }
        }
    }

    /// Raw kernel: rows of `cols` elements `ld` apart, in place.
    static func geluRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                         bias: UnsafePointer<Float>?, pool: ThreadPool) {
        nonisolated(unsafe) let x = x
        nonisolated(unsafe) let bias = bias
        pool.parallelFor(rows, grain: max(1, 4096 / max(cols, 1))) { range in
            for r in range { geluRow(x + r * ld, cols, bias) }
        }
    }

    @inline(__always)
    static func geluRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ bias: UnsafePointer<Float>?) {
        let raw = UnsafeMutableRawPointer(row)
        var j = 0
        while j + 16 <= n {
            var v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
            if let bias { v += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) }
            raw.storeBytes(of: VectorMath.gelu(v), toByteOffset: j * 4, as: SIMD16<Float>.self)
            j += 16
        }
        if j < n {
            var v = SIMD16<Float>()
            for t in j..<n { v[t - j] = row[t] + (bias?[t] ?? 0) }
            let g = VectorMath.gelu(v)
            for t in j..<n { row[t] = g[t - j] }
        }
    }
}
