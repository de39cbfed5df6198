/// LayerNorm over the last dimension: `y = (x − mean) / sqrt(var + eps) · weight + bias`
/// (biased variance, as PyTorch). Optionally fused with a residual bias add on `x` first
/// (`x += addBias` per column, written back), so a preceding GEMM can leave its bias to this pass.
///
/// Thread-safety: stateless; rows are split over the given pool.
public enum LayerNorm {
    /// `y = layerNorm(x)` with per-column `weight` and `bias`; `y` is resized to `x`'s shape.
    public static func apply(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float, into y: inout Tensor,
                             pool: ThreadPool = ComputeContext.serial.pool) throws(TensorError) {
        let cols = x.shape.last ?? 0
        guard weight.count == cols, bias.count == cols else {
            throw .shapeMismatch(op: "layernorm weight/bias", expected: [cols], found: weight.count == cols ? bias.shape : weight.shape)
        }
        y.resize(x.shape)
        guard cols > 0 else { return }
        let rows = x.count / cols
        x.storage.withUnsafeBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                weight.storage.withUnsafeBufferPointer { wp in
                    bias.storage.withUnsafeBufferPointer { bp in
                        // normRows writes x only when addBias is given; here it is not.
                        normRows(UnsafeMutablePointer(mutating: xp.baseAddress!), rows: rows, cols: cols, addBias: nil, weight: wp.baseAddress!,
                                 bias: bp.baseAddress!, eps: eps, out: yp.baseAddress!, pool: pool)
                    }
                }
            }
        }
    }

    /// In place on the residual stream: `x += addBias` (per column, when given), then
    /// `y = layerNorm(x)`. Lets a GEMM that accumulated into `x` leave its bias to this pass.
    public static func apply(_ x: inout Tensor, addingBias addBias: Tensor?, weight: Tensor, bias: Tensor, eps: Float,
                             into y: inout Tensor, pool: ThreadPool = ComputeContext.serial.pool) throws(TensorError) {
        let cols = x.shape.last ?? 0
        guard weight.count == cols, bias.count == cols, addBias == nil || addBias!.count == cols else {
            throw .shapeMismatch(op: "layernorm weight/bias", expected: [cols], found: weight.count == cols ? bias.shape : weight.shape)
        }
        y.resize(x.shape)
        guard cols > 0 else { return }
        let rows = x.count / cols
        let add = addBias ?? Tensor(shape: [0])
        x.storage.withUnsafeMutableBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                weight.storage.withUnsafeBufferPointer { wp in
                    bias.storage.withUnsafeBufferPointer { bp in
                        add.storage.withUnsafeBufferPointer { ap in
                            normRows(xp.baseAddress!, rows: rows, cols: cols, addBias: addBias == nil ? nil : ap.baseAddress!,
                                     weight: wp.baseAddress!, bias: bp.baseAddress!, eps: eps, out: yp.baseAddress!, pool: pool)
                        }
                    }
                }
            }
        }
    }

    /// Raw kernel over contiguous rows: optionally `x += addBias` (in place), then `out = LN(x)`.
    static func normRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, addBias: UnsafePointer<Float>?,
                         weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                         out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        nonisolated(unsafe) let x = x, out = out, addBias = addBias, weight = weight, bias = bias
        pool.parallelFor(rows, grain: max(1, 2048 / max(cols, 1))) { range in
            for r in range { normRow(x + r * cols, cols, addBias, weight, bias, eps, out + r * cols) }
        }
    }

    @inline(__always)
    static func normRow(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ addBias: UnsafePointer<Float>?,
                        _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ eps: Float, _ y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let xr = UnsafeMutableRawPointer(x), yr = UnsafeMutableRawPointer(y)
        let wr = UnsafeRawPointer(w), br = UnsafeRawPointer(b)
        let vecEnd = n & ~15
        var vs = V()
        var j = 0
        if let addBias {
            let ar = UnsafeRawPointer(addBias)
            while j < vecEnd {
                let v = xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) + ar.loadUnaligned(fromByteOffset: j * 4, as: V.self)
                xr.storeBytes(of: v, toByteOffset: j * 4, as: V.self)
                vs += v
                j += 16
            }
            for t in vecEnd..<n { x[t] += addBias[t] }
        } else {
            while j < vecEnd { vs += xr.loadUnaligned(fromByteOffset: j * 4, as: V.self); j += 16 }
        }
        var sum = vs.sum()
        for t in vecEnd..<n { sum += x[t] }
        let mean = sum / Float(n)
        let vmean = V(repeating: mean)
        var vq = V()
        j = 0
        while j < vecEnd {
            let d = xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - vmean
            vq += d * d
            j += 16
        }
        var sq = vq.sum()
        for t in vecEnd..<n { let d = x[t] - mean; sq += d * d }
        let inv = 1 / (sq / Float(n) + eps).squareRoot()
        let vinv = V(repeating: inv)
        j = 0
        while j < vecEnd {
            let d = (xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - vmean) * vinv
            let o = d * wr.loadUnaligned(fromByteOffset: j * 4, as: V.self) + br.loadUnaligned(fromByteOffset: j * 4, as: V.self)
            yr.storeBytes(of: o, toByteOffset: j * 4, as: V.self)
            j += 16
        }
        for t in vecEnd..<n { y[t] = (x[t] - mean) * inv * w[t] + b[t] }
    }
}
