import KVVision

/// The model-loading options shared by `inspect`, `encode` and `bench encoder`:
/// `--heads N` and `--image-size WxH` (only used when a plain timm checkpoint has no kvvision config).
struct ModelOptions {
    var heads: Int?
    var imageSize: [Int]?

    static let help = """
      --heads N            attention heads of a plain timm checkpoint (default: dim/64)
      --image-size WxH     trained input size of a plain timm checkpoint with a non-square grid
    """

    static let precisionHelp = """
      --precision P        f32, bf16 or int8 Linear layers (default: the model's precision.default,
                           else f32; int8 also runs a det head's 3×3 convs in int8);
                           KVVISION_ISA=reference|avx2|avxvnni|avx512vnni caps the kernels
    """

    /// `--precision f32|bf16|int8`, or nil when absent.
    static func precision(_ args: inout Arguments) throws(UsageError) -> Precision? {
        try args.option("--precision", expected: "f32, bf16 or int8") { Precision(rawValue: $0) }
    }

    init(_ args: inout Arguments) throws(UsageError) {
        heads = try args.int("--heads", in: 1...4096)
        imageSize = try args.size("--image-size").map { [$0.height, $0.width] }
    }
}
