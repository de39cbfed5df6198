import KVVision

/// Test frames whose content encodes their frame index, readable back after lossy coding.
///
/// Layout: the top half is a solid reference colour (200, 60, 110); the bottom half is 8 vertical
/// stripes, stripe b white when bit b of the index is set and black otherwise (indices 0...255).
/// Works at any size whose width is a multiple of 16 and height a multiple of 4, and at any
/// aspect-preserving scale of it.
enum MediaPattern {
    static let reference: (r: UInt8, g: UInt8, b: UInt8) = (200, 60, 110)

    /// Packed RGB24 pixels of frame `index`.
    static func frame(index: Int, width: Int, height: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let o = (y * width + x) * 3
                if y < height / 2 {
                    rgb[o] = reference.r; rgb[o + 1] = reference.g; rgb[o + 2] = reference.b
                } else {
                    let bit = x * 8 / width
                    let v: UInt8 = (index >> bit) & 1 == 1 ? 255 : 0
                    rgb[o] = v; rgb[o + 1] = v; rgb[o + 2] = v
                }
            }
        }
        return rgb
    }

    /// Reads the index back from the centres of the stripes of a region (x0, y0, w, h) of an RGB image.
    static func index(in rgb: [UInt8], width: Int, region: (x: Int, y: Int, w: Int, h: Int)? = nil, height: Int) -> Int {
        let r = region ?? (0, 0, width, height)
        var value = 0
        let y = r.y + r.h * 3 / 4
        for bit in 0..<8 {
            let x = r.x + (2 * bit + 1) * r.w / 16
            let o = (y * width + x) * 3
            if Int(rgb[o]) + Int(rgb[o + 1]) + Int(rgb[o + 2]) > 3 * 128 { value |= 1 << bit }
        }
        return value
    }

    /// The pixel at (x, y).
    static func pixel(_ rgb: [UInt8], width: Int, x: Int, y: Int) -> (r: Int, g: Int, b: Int) {
        let o = (y * width + x) * 3
        return (Int(rgb[o]), Int(rgb[o + 1]), Int(rgb[o + 2]))
    }

    /// Writes `count` pattern frames to `path` and returns the path.
    @discardableResult
    static func writeClip(_ path: String, count: Int, width: Int = 128, height: Int = 96, fps: Int = 25) throws -> String {
        let writer = try VideoWriter(path: path, width: width, height: height, fps: fps)
        for i in 0..<count { try writer.write(rgb: frame(index: i, width: width, height: height)) }
        try writer.finish()
        return path
    }

    /// Like `writeClip`, with seeded noise over the top rows so every frame codes to a similar
    /// size (a cut at half the file is then near half the frames). The stripes stay readable.
    @discardableResult
    static func writeNoisyClip(_ path: String, count: Int, width: Int = 128, height: Int = 96) throws -> String {
        let writer = try VideoWriter(path: path, width: width, height: height)
        var rng = SplitMix64(seed: 7)
        for i in 0..<count {
            var rgb = frame(index: i, width: width, height: height)
            for j in 0..<(width * (height * 5 / 12) * 3) { rgb[j] = UInt8(truncatingIfNeeded: rng.next()) }
            try writer.write(rgb: rgb)
        }
        try writer.finish()
        return path
    }
}
