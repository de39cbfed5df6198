import Foundation

/// The anti-aliased coverage of one object in one frame, on the integer pixel grid around it.
///
/// Drawing is coverage-based: each pixel's coverage is `clamp(0.5 − d, 0, 1)`, where `d` is the
/// signed distance in pixels from the pixel centre to the shape's outline (negative inside), a
/// one-pixel linear ramp that equals the exact area coverage for straight edges and is close to
/// it elsewhere. A pixel *belongs* to the object when its coverage is ≥ 0.5 (its centre is inside
/// the outline). The marker is a disc of radius max(2, 0.09·size) centred 0.26·size from the
/// object's centre along its rotation (towards the triangle's apex and along one arm of the
/// cross); it changes colour only, never coverage.
///
/// Shapes in the object's own frame (size `s`, marker along +x): circle of diameter `s`; square
/// of side `s`; equilateral triangle of side `s` centred on its centroid, apex along +x; cross of
/// two `s × s/3` bars.
///
/// Invariants: the grid (`x0, y0, width, height`) holds every pixel with non-zero coverage;
/// buffers only grow (to the largest object seen), so per-frame reuse allocates nothing.
///
/// Thread-safety: a value type; one per renderer, used from one thread.
public struct ShapeMask: Sendable {
    /// Grid origin in image pixels (may be negative or past the image).
    public private(set) var x0 = 0
    public private(set) var y0 = 0
    public private(set) var width = 0
    public private(set) var height = 0
    /// Body coverage, row-major `width × height`, 0…1.
    public private(set) var coverage: [Float] = []
    /// Marker coverage (within the body), row-major, 0…1.
    public private(set) var marker: [Float] = []
    /// Pixels that belong to the object (coverage ≥ 0.5), anywhere on the plane.
    public private(set) var pixelCount = 0
    /// Bounding box of the belonging pixels, inclusive, in image pixels (meaningless when `pixelCount == 0`).
    public private(set) var minX = 0, minY = 0, maxX = -1, maxY = -1

    public init() {}

    /// Coverage of pixel (gx, gy) of the grid.
    @inline(__always) public func coverage(_ gx: Int, _ gy: Int) -> Float { coverage[gy * width + gx] }

    /// Rasterises `shape` of `size` at `pose`, replacing the previous contents.
    public mutating func rasterize(_ shape: ShapeClass, size: Double, pose: ObjectPose) {
        let radius = SceneScript.extentRadius(size: size)
        x0 = Int((pose.x - radius).rounded(.down))
        y0 = Int((pose.y - radius).rounded(.down))
        width = Int((pose.x + radius).rounded(.up)) - x0 + 1
        height = Int((pose.y + radius).rounded(.up)) - y0 + 1
        let n = width * height
        if coverage.count < n {
            coverage = [Float](repeating: 0, count: n)
            marker = [Float](repeating: 0, count: n)
        }
        let c = cos(pose.angle), s = sin(pose.angle)
        let half = size / 2, bar = size / 6
        let markerOffset = 0.26 * size, markerRadius = max(2, 0.09 * size)
        pixelCount = 0
        minX = Int.max; minY = Int.max; maxX = Int.min; maxY = Int.min
        for gy in 0..<height {
            let py = Double(y0 + gy) + 0.5 - pose.y
            var i = gy * width
            for gx in 0..<width {
                let px = Double(x0 + gx) + 0.5 - pose.x
                let lx = px * c + py * s, ly = -px * s + py * c
                let d: Double
                switch shape {
                case .circle: d = (lx * lx + ly * ly).squareRoot() - half
                case .square: d = Self.box(lx, ly, half, half)
                case .triangle: d = Self.triangle(ly, lx, half)
                case .cross: d = min(Self.box(lx, ly, half, bar), Self.box(lx, ly, bar, half))
                }
                let cov = min(1, max(0, 0.5 - d))
                coverage[i] = Float(cov)
                if cov > 0 {
                    let mx = lx - markerOffset
                    let dm = (mx * mx + ly * ly).squareRoot() - markerRadius
                    marker[i] = Float(min(1, max(0, 0.5 - dm)))
                    if cov >= 0.5 {
                        pixelCount += 1
                        let x = x0 + gx, y = y0 + gy
                        if x < minX { minX = x }
                        if x > maxX { maxX = x }
                        if y < minY { minY = y }
                        if y > maxY { maxY = y }
                    }
                } else {
                    marker[i] = 0
                }
                i += 1
            }
        }
    }

    /// Signed distance to an axis-aligned box of half-extents (bx, by).
    @inline(__always) static func box(_ x: Double, _ y: Double, _ bx: Double, _ by: Double) -> Double {
        let qx = abs(x) - bx, qy = abs(y) - by
        let ox = max(qx, 0), oy = max(qy, 0)
        return (ox * ox + oy * oy).squareRoot() + min(max(qx, qy), 0)
    }

    /// Signed distance to an equilateral triangle of half-side `r`, centroid at the origin, apex
    /// along +y (Inigo Quilez's exact formula); callers swap x and y to put the apex along +x.
    @inline(__always) static func triangle(_ px: Double, _ py: Double, _ r: Double) -> Double {
        let k = 3.0.squareRoot()
        var x = abs(px) - r
        var y = py + r / k
        if x + k * y > 0 { (x, y) = ((x - k * y) / 2, (-k * x - y) / 2) }
        x -= min(max(x, -2 * r), 0)
        let len = (x * x + y * y).squareRoot()
        return y > 0 ? -len : (y < 0 ? len : 0)
    }
}
