/// Numerically stable softmax over the last dimension (max subtracted before exp).
///
/// Thread-safety: stateless; rows are split over the given pool.
public enum Softmax {
    /// In place over each row of the trailing dimension.
    public static func rows(_ x: inout Tensor, pool: ThreadPool = Parallel.pool) {
        let cols = x.shape.last ?? 0
        guard cols > 0 else { return }
        let rows = x.count / cols
        x.storage.withUnsafeMutableBufferPointer { xp in
            softmaxRows(xp.baseAddress!, rows: rows, cols: cols, ld: cols, pool: pool)
        }
    }

    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, pool: ThreadPool) {
        nonisolated(unsafe) let x = x
        pool.parallelFor(rows, grain: max(1, 4096 / max(cols, 1))) { range in
            for r in range { softmaxRow(x + r * ld, cols) }
        }
    }

    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
        let raw = UnsafeMutableRawPointer(row)
        var vmax = SIMD16<Float>(repeating: -.infinity)
        var j = 0
        while j + 16 <= n {
            vmax = VectorMath.max(vmax, raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self))
            j += 16
        }
        var m = vmax.max()
        for t in j..<n { m = Swift.max(m, row[t]) }
        let vm = SIMD16<Float>(repeating: m)
        var vsum = SIMD16<Float>()
        j = 0
        while j + 16 <= n {
            let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) - vm)
            raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD16<Float>.self)
            vsum += e
            j += 16
        }
        var sum = vsum.sum()
        if j < n {
            var v = SIMD16<Float>(repeating: -.infinity)
            for t in j..<n { v[t - j] = row[t] - m }
            let e = VectorMath.exp(v)
            for t in j..<n { row[t] = e[t - j]; sum += e[t - j] }
        }
        let inv = SIMD16<Float>(repeating: 1 / sum)
        j = 0
        while j + 16 <= n {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) * inv, toByteOffset: j * 4, as: SIMD16<Float>.self)
            j += 16
        }
        for t in j..<n { row[t] *= inv[0] }
    }
}
