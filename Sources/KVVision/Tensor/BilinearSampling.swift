/// Bilinear sampling of `[C, H, W]` feature maps with PyTorch's coordinate conventions.
///
/// Convention (align_corners = False, PyTorch's default): pixel k of a map covers the continuous
/// interval [k, k + 1), its centre is k + 0.5. A normalised coordinate g ∈ [−1, 1] spans the map's
/// outer edges: g = −1 is the left edge of pixel 0, g = 1 the right edge of pixel W − 1, so the
/// continuous coordinate is u = (g + 1)·W/2 and the sample interpolates between the pixel centres
/// around u − 0.5. Corners outside the map read as zero (padding_mode = 'zeros'), so a point half a
/// pixel or more outside the edge fades to zero.
///
/// - `gridSample`: `F.grid_sample(x[None], grid[None], mode='bilinear', padding_mode='zeros',
///   align_corners=False)[0]` for one image: weights `nw = (1−β)(1−α)`, `ne = (1−β)α`,
///   `sw = β(1−α)`, `se = βα` with α, β the fractional parts, summed nw + ne + sw + se as PyTorch's CPU kernel.
/// - `sampleBoxes`: an n×n grid of points inside each box `(x0, y0, x1, y1)` given in image pixels
///   (same edge convention: the box [0, Wimg) × [0, Himg) covers the whole image); point (i, j) is at
///   `u = x0 + (j + ½)(x1 − x0)/n`, `v = y0 + (i + ½)(y1 − y0)/n` (ROIAlign's aligned bin centres, one
///   sample per bin), mapped to the feature map by dividing by `stride` (image pixels per feature
///   cell; 1 for boxes already in feature-map pixels), then sampled as `gridSample` with
///   `g = 2·(u/stride)/W − 1`. Output `[B, C, n, n]`, PyTorch's `grid_sample` layout for a grid `[B, n, n, 2]`.
/// - `resize`: `F.interpolate(x[None], size=(Ho, Wo), mode='bilinear', align_corners=False)[0]`:
///   source index `max(0, (dst + ½)·in/out − ½)`, neighbours clamped at the last row/column.
///
/// Invariants: outputs are resized with `Tensor.resize` (no allocation at a fixed size); inputs are
/// never modified. Thread-safety: stateless.
public enum BilinearSampling {
    /// Samples `input` `[C, H, W]` at the normalised points `grid` `[..., 2]` (x then y, each in
    /// [−1, 1] across the map); `output` becomes `[C] + grid.shape.dropLast()`.
    public static func gridSample(_ input: Tensor, grid: Tensor, into output: inout Tensor) throws(TensorError) {
        guard input.rank == 3 else { throw .shapeMismatch(op: "grid sample input [C, H, W]", expected: [-1, -1, -1], found: input.shape) }
        guard grid.rank >= 1, grid.shape.last == 2 else {
            throw .shapeMismatch(op: "grid sample grid [..., 2]", expected: [-1, 2], found: grid.shape)
        }
        let c = input.shape[0], points = grid.count / 2
        output.resize([c] + grid.shape.dropLast())
        guard output.count > 0 else { return }
        input.storage.withUnsafeBufferPointer { ip in
            grid.storage.withUnsafeBufferPointer { gp in
                output.storage.withUnsafeMutableBufferPointer { op in
                    for p in 0..<points {
                        sample(ip.baseAddress!, channels: c, height: input.shape[1], width: input.shape[2],
                               gx: gp[2 * p], gy: gp[2 * p + 1], into: op.baseAddress! + p, stride: points)
                    }
                }
            }
        }
    }

    /// Samples an `n × n` grid inside each of `boxes` (`[B, 4]`, `x0, y0, x1, y1` in image pixels)
    /// on `features` `[C, H, W]` whose cells are `stride` image pixels; `output` becomes `[B, C, n, n]`.
    public static func sampleBoxes(_ features: Tensor, boxes: Tensor, stride: Double, points n: Int,
                                   into output: inout Tensor) throws(TensorError) {
        let (b, c, h, w) = try checkBoxSampling(features, boxes: boxes, stride: stride, points: n)
        output.resize([b, c, n, n])
        guard output.count > 0 else { return }
        features.storage.withUnsafeBufferPointer { fp in
            output.storage.withUnsafeMutableBufferPointer { op in
                forEachGridPoint(boxes, count: b, stride: stride, points: n, height: h, width: w) { bi, i, j, gx, gy in
                    sample(fp.baseAddress!, channels: c, height: h, width: w, gx: gx, gy: gy,
                           into: op.baseAddress! + bi * c * n * n + i * n + j, stride: n * n)
                }
            }
        }
    }

    /// `sampleBoxes`'s points laid out point-major: `output` becomes `[B·n·n, C]` (row `b·n² + i·n + j`
    /// holds point (i, j) of box b, its C channels contiguous), and `weightSums` `[B·n·n]` gets each
    /// point's sum of the bilinear weights of its corners inside the map (1 inside, less near the
    /// edge, 0 outside). A 1×1 conv `W·x + b` applied to the map before sampling equals `W` applied
    /// to these samples plus `b · weightSum` (sampling is linear; the corners outside read zero,
    /// not `b`), which is how `TokenHead` samples its appearance map without computing it.
    public static func sampleBoxesPointMajor(_ features: Tensor, boxes: Tensor, stride: Double, points n: Int,
                                             into output: inout Tensor, weightSums: inout Tensor) throws(TensorError) {
        let (b, c, h, w) = try checkBoxSampling(features, boxes: boxes, stride: stride, points: n)
        output.resize([b * n * n, c])
        weightSums.resize([b * n * n])
        guard output.count > 0 else { return }
        features.storage.withUnsafeBufferPointer { fp in
            output.storage.withUnsafeMutableBufferPointer { op in
                weightSums.storage.withUnsafeMutableBufferPointer { sp in
                    forEachGridPoint(boxes, count: b, stride: stride, points: n, height: h, width: w) { bi, i, j, gx, gy in
                        let row = (bi * n + i) * n + j
                        sp[row] = sample(fp.baseAddress!, channels: c, height: h, width: w, gx: gx, gy: gy,
                                         into: op.baseAddress! + row * c, stride: 1)
                    }
                }
            }
        }
    }

    /// The box samplers' argument checks; returns (boxes, channels, height, width).
    private static func checkBoxSampling(_ features: Tensor, boxes: Tensor, stride: Double,
                                         points n: Int) throws(TensorError) -> (Int, Int, Int, Int) {
        guard features.rank == 3 else {
            throw .shapeMismatch(op: "box sample features [C, H, W]", expected: [-1, -1, -1], found: features.shape)
        }
        guard boxes.rank == 2, boxes.shape[1] == 4 else { throw .shapeMismatch(op: "box sample boxes [B, 4]", expected: [-1, 4], found: boxes.shape) }
        guard n >= 1, stride > 0, stride.isFinite else {
            throw .shapeMismatch(op: "box sample: points \(n) ≥ 1 and stride \(stride) > 0", expected: [], found: [])
        }
        return (boxes.shape[0], features.shape[0], features.shape[1], features.shape[2])
    }

    /// Calls `body(box, i, j, gx, gy)` for each box's grid point (i, j) — the bin centre, as normalised
    /// map coordinates (see the type's notes) — box by box, row by row.
    @inline(__always)
    private static func forEachGridPoint(_ boxes: Tensor, count b: Int, stride: Double, points n: Int, height h: Int, width w: Int,
                                         _ body: (Int, Int, Int, Float, Float) -> Void) {
        for bi in 0..<b {
            let x0 = Double(boxes.storage[4 * bi]), y0 = Double(boxes.storage[4 * bi + 1])
            let x1 = Double(boxes.storage[4 * bi + 2]), y1 = Double(boxes.storage[4 * bi + 3])
            for i in 0..<n {
                let v = y0 + (Double(i) + 0.5) * (y1 - y0) / Double(n)
                let gy = Float(2 * (v / stride) / Double(h) - 1)
                for j in 0..<n {
                    let u = x0 + (Double(j) + 0.5) * (x1 - x0) / Double(n)
                    body(bi, i, j, Float(2 * (u / stride) / Double(w) - 1), gy)
                }
            }
        }
    }

    /// `output = interpolate(input, size: (height, width), bilinear, align_corners=False)` for
    /// `input` `[C, H, W]` (up- or down-sampling; no antialiasing, as PyTorch's default).
    public static func resize(_ input: Tensor, height ho: Int, width wo: Int, into output: inout Tensor) throws(TensorError) {
        guard input.rank == 3, input.shape[1] > 0, input.shape[2] > 0, ho >= 0, wo >= 0 else {
            throw .shapeMismatch(op: "bilinear resize to \(ho)×\(wo): input [C, H>0, W>0]", expected: [-1, -1, -1], found: input.shape)
        }
        let c = input.shape[0], h = input.shape[1], w = input.shape[2]
        output.resize([c, ho, wo])
        guard output.count > 0 else { return }
        let sh = Float(h) / Float(ho), sw = Float(w) / Float(wo)
        input.storage.withUnsafeBufferPointer { ip in
            output.storage.withUnsafeMutableBufferPointer { op in
                for oy in 0..<ho {
                    let (y0, y1, ly) = source(oy, scale: sh, size: h)
                    for ox in 0..<wo {
                        let (x0, x1, lx) = source(ox, scale: sw, size: w)
                        for ch in 0..<c {
                            let p = ip.baseAddress! + ch * h * w
                            let top = (1 - lx) * p[y0 * w + x0] + lx * p[y0 * w + x1]
                            let bottom = (1 - lx) * p[y1 * w + x0] + lx * p[y1 * w + x1]
                            op[(ch * ho + oy) * wo + ox] = (1 - ly) * top + ly * bottom
                        }
                    }
                }
            }
        }
    }

    /// PyTorch's `area_pixel_compute_source_index` (align_corners=False) and its two neighbours.
    @inline(__always)
    private static func source(_ dst: Int, scale: Float, size: Int) -> (Int, Int, Float) {
        let real = max(0, scale * (Float(dst) + 0.5) - 0.5)
        let i0 = min(Int(real), size - 1)
        let i1 = i0 < size - 1 ? i0 + 1 : i0
        return (i0, i1, real - Float(i0))
    }

    /// One bilinear sample of every channel at normalised (gx, gy), written `stride` apart; returns
    /// the sum of the weights of the corners inside the map.
    @inline(__always) @discardableResult
    private static func sample(_ x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                               gx: Float, gy: Float, into out: UnsafeMutablePointer<Float>, stride: Int) -> Float {
        // PyTorch's unnormalize for align_corners=False: (g + 1)·size/2 − ½.
        let ix = (gx + 1) * (Float(w) / 2) - 0.5, iy = (gy + 1) * (Float(h) / 2) - 0.5
        guard ix.isFinite, iy.isFinite, ix > -1, iy > -1, ix < Float(w), iy < Float(h) else {
            for ch in 0..<c { out[ch * stride] = 0 }
            return 0
        }
        let fx = ix.rounded(.down), fy = iy.rounded(.down)
        let xw = Int(fx), yn = Int(fy)
        let we = ix - fx, ns = iy - fy
        let e = 1 - we, s = 1 - ns
        let nw = s * e, ne = s * we, sw = ns * e, se = ns * we
        let west = xw >= 0, east = xw + 1 < w, north = yn >= 0, south = yn + 1 < h
        for ch in 0..<c {
            let p = x + ch * h * w
            let vnw: Float = north && west ? p[yn * w + xw] : 0
            let vne: Float = north && east ? p[yn * w + xw + 1] : 0
            let vsw: Float = south && west ? p[(yn + 1) * w + xw] : 0
            let vse: Float = south && east ? p[(yn + 1) * w + xw + 1] : 0
            out[ch * stride] = vnw * nw + vne * ne + vsw * sw + vse * se
        }
        return (north && west ? nw : 0) + (north && east ? ne : 0) + (south && west ? sw : 0) + (south && east ? se : 0)
    }
}
