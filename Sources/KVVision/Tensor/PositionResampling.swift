/// Resampling of a learned absolute position embedding to a new patch grid, exactly as timm's
/// `resample_abs_pos_embed`: prefix tokens are kept, the grid `[gh, gw, D]` is resized with
/// PyTorch's `interpolate(mode='bicubic', antialias=True, align_corners=False)`.
///
/// PyTorch's antialiased bicubic is separable and uses the PIL kernel (a = −0.5) with support
/// `2·max(scale, 1)` (scale = in/out), taps `[max(0, ⌊c − s + ½⌋), min(n, ⌊c + s + ½⌋))` around the
/// centre `c = scale·(i + ½)`, weights `k((j − c + ½)·min(1, 1/scale))` normalised to sum 1 — also
/// when enlarging (scale < 1), where it differs from plain bicubic. Width is resized first, then height.
///
/// Thread-safety: stateless.
public enum PositionResampling {
    /// `pos` is `[prefix + gh·gw, D]`; returns `[prefix + newH·newW, D]`.
    public static func resample(_ pos: Tensor, prefixTokens: Int, from old: (h: Int, w: Int), to new: (h: Int, w: Int)) throws(TensorError) -> Tensor {
        guard pos.rank == 2, prefixTokens >= 0, old.h > 0, old.w > 0, new.h > 0, new.w > 0,
              pos.shape[0] == prefixTokens + old.h * old.w else {
            throw .shapeMismatch(op: "position embedding resample", expected: [prefixTokens + old.h * old.w, -1], found: pos.shape)
        }
        if old == new { return pos }
        let d = pos.shape[1]
        let wx = weights(input: old.w, output: new.w), wy = weights(input: old.h, output: new.h)
        // Horizontal pass: [old.h, new.w, d]
        var mid = [Double](repeating: 0, count: old.h * new.w * d)
        for y in 0..<old.h {
            for x in 0..<new.w {
                let (start, taps) = wx[x]
                for (t, wt) in taps.enumerated() {
                    let src = (prefixTokens + y * old.w + start + t) * d
                    let dst = (y * new.w + x) * d
                    for c in 0..<d { mid[dst + c] += wt * Double(pos.storage[src + c]) }
                }
            }
        }
        var out = Tensor(shape: [prefixTokens + new.h * new.w, d])
        for i in 0..<(prefixTokens * d) { out.storage[i] = pos.storage[i] }
        for y in 0..<new.h {
            let (start, taps) = wy[y]
            for x in 0..<new.w {
                let dst = (prefixTokens + y * new.w + x) * d
                for c in 0..<d {
                    var acc = 0.0
                    for (t, wt) in taps.enumerated() { acc += wt * mid[((start + t) * new.w + x) * d + c] }
                    out.storage[dst + c] = Float(acc)
                }
            }
        }
        return out
    }

    /// PIL bicubic kernel, a = −0.5.
    static func cubic(_ x0: Double) -> Double {
        let a = -0.5, x = abs(x0)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output index: first input tap and normalised tap weights.
    static func weights(input: Int, output: Int) -> [(Int, [Double])] {
        let scale = Double(input) / Double(output)
        let support = 2 * max(scale, 1)
        let invScale = scale >= 1 ? 1 / scale : 1
        return (0..<output).map { i in
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), input)
            var w = (lo..<max(lo, hi)).map { j in cubic((Double(j) - center + 0.5) * invScale) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            return (lo, w)
        }
    }
}
