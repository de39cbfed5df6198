/// Converts an interleaved RGB UInt8 frame (HWC, rows `stride` bytes apart) into the encoder's
/// input: a Float32 `[3, H, W]` tensor with `(v / 255 − mean[c]) / std[c]` per channel.
///
/// Invariants: `mean` and `std` have 3 entries, std > 0 (checked at init).
/// Thread-safety: immutable value; `apply` writes only its output.
public struct ImageNormalization: Sendable, Equatable {
    public let mean: [Float]
    public let std: [Float]
    /// `1 / (255·std[c])` and `−mean[c] / std[c]`: a byte v becomes `v · scale[c] + offset[c]`.
    let scale: [Float]
    let offset: [Float]

    public init(mean: [Float], std: [Float]) throws(WeightsError) {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw .invalidConfig(field: "mean/std", problem: "need 3 finite means and 3 positive stds, got \(mean) / \(std)")
        }
        self.mean = mean
        self.std = std
        scale = std.map { 1 / (255 * $0) }
        offset = zip(mean, std).map { -$0 / $1 }
    }

    /// The normalisation of a model config.
    public init(config: ModelConfig) throws(WeightsError) { try self.init(mean: config.mean, std: config.std) }

    /// Writes `rgb` (width·height pixels, `stride` ≥ 3·width bytes per row) into `out` `[3, H, W]`,
    /// reusing its allocation.
    public func apply(rgb: [UInt8], width: Int, height: Int, stride: Int? = nil, into out: inout Tensor) throws(WeightsError) {
        let rowBytes = stride ?? 3 * width
        guard width > 0, height > 0, rowBytes >= 3 * width, rgb.count >= rowBytes * (height - 1) + 3 * width else {
            throw .badInput(expected: "RGB \(width)x\(height) with \(rowBytes)-byte rows", found: [rgb.count])
        }
        out.assignPlanes(fromRGB: rgb, width: width, height: height, rowBytes: rowBytes, scale: scale, offset: offset)
    }
}
