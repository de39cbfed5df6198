import Foundation
import KVVision

/// `kvvision inspect MODEL`: config, parameter count, FLOPs per frame and tensor table of a model file.
enum InspectCommand: Command {
    static let name = "inspect"
    static let summary = "show a model file's config, parameters, FLOPs per frame and tensors"
    static let help = """
    Usage: kvvision inspect MODEL [--json] [--heads N] [--image-size WxH]

    Reads a .safetensors model (kvvision model or plain timm ViT checkpoint), validates it and
    prints its config, parameter count, encoder FLOPs per frame at its input size, and a table of
    tensors (dtype, shape, whether the encoder uses it).

    Options:
      --json               machine-readable output
    \(ModelOptions.help)
    """

    struct TensorRow: Encodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let used: Bool
    }

    struct Report: Encodable {
        let path: String
        let config: ModelConfig
        let configSource: String
        let parameters: Int
        let flopsPerFrame: Int
        let tensors: [TensorRow]
        let unused: [String]
        enum CodingKeys: String, CodingKey {
            case path, config, configSource = "config_source", parameters, flopsPerFrame = "flops_per_frame", tensors, unused
        }
    }

    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        let options = try ModelOptions(&args)
        let path = try args.positional("MODEL")
        try args.finish()
        let file = try SafetensorsFile(path: path)
        let config = try ModelConfig.from(file, heads: options.heads, imageSize: options.imageSize)
        let (model, unused) = try VisionTransformer.load(file, config: config)
        let unusedSet = Set(unused)
        let rows = file.names.compactMap { n in file.entries[n].map { TensorRow(name: n, dtype: $0.dtype.rawValue, shape: $0.shape, used: !unusedSet.contains(n)) } }
        let report = Report(path: path, config: config, configSource: file.metadata["kvvision.config"] == nil ? "inferred" : "metadata",
                            parameters: model.parameterCount,
                            flopsPerFrame: model.flopsPerFrame(height: config.imageSize[0], width: config.imageSize[1]),
                            tensors: rows, unused: unused)
        if json {
            try Console.json(report)
            return ExitCode.success
        }
        let c = config
        var lines = [
            "model      \(path)",
            "config     \(report.configSource): \(c.name)",
            "input      \(c.imageSize[1])x\(c.imageSize[0]) (WxH), patch \(c.patchSize), grid \(c.grid.w)x\(c.grid.h), \(1 + c.grid.h * c.grid.w) tokens",
            "encoder    dim \(c.dim), depth \(c.depth), heads \(c.heads), mlp \(c.mlpDim), eps \(c.layerNormEps)",
            "normalise  mean \(c.mean), std \(c.std)",
            "params     \(report.parameters) (\(String(format: "%.2f", Double(report.parameters) / 1e6)) M)",
            "flops      \(String(format: "%.3f", Double(report.flopsPerFrame) / 1e9)) GFLOP per frame",
        ]
        if let t = c.temporal { lines.append("temporal   dim \(t.dim), heads \(t.heads), kv heads \(t.kvHeads), window \(t.window)") }
        if let n = c.classNames { lines.append("classes    \(n.joined(separator: ", "))") }
        if let n = c.actionNames { lines.append("actions    \(n.joined(separator: ", "))") }
        lines.append("")
        let width = max(6, rows.map(\.name.count).max() ?? 0)
        lines.append("name".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "dtype  shape")
        for r in rows {
            lines.append(r.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                         + r.dtype.padding(toLength: 7, withPad: " ", startingAt: 0)
                         + "[" + r.shape.map(String.init).joined(separator: ", ") + "]" + (r.used ? "" : "  (unused)"))
        }
        Console.out(lines.joined(separator: "\n"))
        return ExitCode.success
    }
}
