import Foundation
import KVVision

/// `kvvision encode`: runs only the spatial encoder on a normalised NCHW float32 .npy.
enum EncodeCommand: Command {
    static let name = "encode"
    static let summary = "run the ViT encoder on a float32 NCHW .npy and write the tokens as .npy"
    static let help = """
    Usage: kvvision encode --model MODEL --input-tensor X.npy --out Y.npy [--threads N] [--gemm pool|blas] [--precision f32|bf16|int8] [--heads N] [--image-size WxH]

    Reads X.npy, float32 [N, 3, H, W] already normalised (H and W multiples of the patch size; a
    grid other than the trained one resamples the position embedding as timm does), and writes
    the encoder tokens [N, 1+P, D] as float32 Y.npy.

    Options:
      --model MODEL        .safetensors model or plain timm ViT checkpoint
      --input-tensor X     input .npy (float32, little-endian, C order)
      --out Y              output .npy
      --threads N          threads of this encoder (default: KVVISION_THREADS or all cores)
      --gemm pool|blas     GEMM threading: kvvision's pool (default; OpenBLAS single-threaded)
                           or OpenBLAS's own threads (process-wide)
    \(ModelOptions.precisionHelp)
    \(ModelOptions.help)
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        guard let modelPath = try args.option("--model") else { throw UsageError("missing --model") }
        guard let inputPath = try args.option("--input-tensor") else { throw UsageError("missing --input-tensor") }
        guard let outPath = try args.option("--out") else { throw UsageError("missing --out") }
        let threads = try args.int("--threads", in: 1...256)
        let gemm = try args.option("--gemm", expected: "blas or pool") { ComputeContext.GEMMThreading(rawValue: $0) } ?? .pool
        let precision = try ModelOptions.precision(&args)
        let options = try ModelOptions(&args)
        try args.finish()
        let context = ComputeContext(threads: threads ?? ComputeContext.defaultThreads, gemm: gemm)
        if gemm == .blas { GEMM.setThreads(context.threads) }
        let (model, _) = try VisionTransformer.load(path: modelPath, heads: options.heads, imageSize: options.imageSize, precision: precision)
        let input = try NpyFile.read(path: inputPath)
        guard input.rank == 4, input.shape[1] == 3 else {
            throw WeightsError.badInput(expected: "[N, 3, H, W] in \(inputPath)", found: input.shape)
        }
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        var state = try model.makeState(height: h, width: w)
        let tokens = 1 + state.grid.h * state.grid.w, d = model.config.dim
        var out = Tensor(shape: [n, tokens, d])
        var frame = Tensor(shape: [3, h, w])
        let frameSize = 3 * h * w
        for f in 0..<n {
            frame.storage.replaceSubrange(0..<frameSize, with: input.storage[(f * frameSize)..<((f + 1) * frameSize)])
            try model.encode(frame, state: &state, context: context)
            out.storage.replaceSubrange((f * tokens * d)..<((f + 1) * tokens * d), with: state.tokens.storage)
        }
        try NpyFile.write(out, to: outPath)
        Console.err("kvvision encode: \(n) frame(s) \(w)x\(h) -> tokens [\(n), \(tokens), \(d)] in \(outPath) (\(model.precision.rawValue))")
        return ExitCode.success
    }
}
