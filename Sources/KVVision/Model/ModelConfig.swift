import Foundation

/// Everything needed to run a kvvision model, stored as JSON in a model file's
/// `__metadata__["kvvision.config"]` (snake_case keys) or inferred from a plain timm checkpoint.
///
/// Defaults when a key is absent: `name` "vit", `mlp_dim` 4·dim, `layer_norm_eps` 1e-6 (timm's
/// ViT), `mean`/`std` ImageNet (0.485, 0.456, 0.406)/(0.229, 0.224, 0.225) as timm's DeiT;
/// `class_names`, `action_names`, `temporal` absent (filled by later heads). Required:
/// `image_size` [height, width], `patch_size`, `dim`, `depth`, `heads`.
/// Invariants after `validate()`: all sizes positive, image a multiple of the patch, heads divide
/// dim, three positive std values, temporal heads divisible by kv heads.
///
/// Thread-safety: a value type.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// Temporal attention settings (read by the temporal layer).
    public struct Temporal: Codable, Sendable, Equatable {
        public var dim: Int
        public var heads: Int
        public var kvHeads: Int
        /// Window length W in frames.
        public var window: Int
        enum CodingKeys: String, CodingKey { case dim, heads, kvHeads = "kv_heads", window }
        public init(dim: Int, heads: Int, kvHeads: Int, window: Int) {
            self.dim = dim; self.heads = heads; self.kvHeads = kvHeads; self.window = window
        }
    }

    /// Reduced-precision defaults: the precision a model runs at when the user names none, and
    /// the layers that must stay f32 whatever the precision (`keep_f32`: timm layer names, e.g.
    /// `patch_embed`, `head`, `blocks.0.attn.qkv`; a name also keeps everything under it, so
    /// `blocks.11` keeps that block's four Linear layers). JSON `{"default": "int8",
    /// "keep_f32": ["patch_embed", "head"]}`; absent: f32, `keep_f32` = `defaultKeepF32`.
    public struct PrecisionDefaults: Codable, Sendable, Equatable {
        public var `default`: Precision
        public var keepF32: [String]
        /// Kept f32 when a model names nothing: the patch embedding (the encoder's first GEMM,
        /// on raw pixels) and the heads.
        public static let defaultKeepF32 = ["patch_embed", "head"]
        enum CodingKeys: String, CodingKey { case `default`, keepF32 = "keep_f32" }
        public init(default: Precision = .f32, keepF32: [String] = PrecisionDefaults.defaultKeepF32) {
            self.default = `default`
            self.keepF32 = keepF32
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.default = try c.decodeIfPresent(Precision.self, forKey: .default) ?? .f32
            keepF32 = try c.decodeIfPresent([String].self, forKey: .keepF32) ?? Self.defaultKeepF32
        }

        /// Whether layer `name` (a timm module path such as `blocks.3.mlp.fc1`) stays f32.
        public func keepsF32(_ name: String) -> Bool {
            keepF32.contains { name == $0 || name.hasPrefix($0 + ".") }
        }
    }

    public var name: String = "vit"
    /// Trained input size, [height, width] in pixels.
    public var imageSize: [Int]
    public var patchSize: Int
    public var dim: Int
    public var depth: Int
    public var heads: Int
    public var mlpDim: Int
    public var layerNormEps: Float = 1e-6
    public var mean: [Float] = [0.485, 0.456, 0.406]
    public var std: [Float] = [0.229, 0.224, 0.225]
    public var classNames: [String]?
    public var actionNames: [String]?
    public var temporal: Temporal?
    /// Precision defaults (absent: f32, patch embedding and heads named f32).
    public var precision: PrecisionDefaults?
    /// The default model's heads (`ModelConfig+Heads.swift`); absent in an encoder-only file.
    public var det: DetectionHead?
    public var tok: TokenHead?
    public var asso: AssociationHead?
    public var act: ActionHead?

    enum CodingKeys: String, CodingKey {
        case name, imageSize = "image_size", patchSize = "patch_size", dim, depth, heads, mlpDim = "mlp_dim"
        case layerNormEps = "layer_norm_eps", mean, std, classNames = "class_names", actionNames = "action_names", temporal
        case precision, det, tok, asso, act
    }

    public init(name: String = "vit", imageSize: [Int], patchSize: Int, dim: Int, depth: Int, heads: Int, mlpDim: Int? = nil) {
        self.name = name
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.mlpDim = mlpDim ?? 4 * dim
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "vit"
        imageSize = try c.decode([Int].self, forKey: .imageSize)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        dim = try c.decode(Int.self, forKey: .dim)
        depth = try c.decode(Int.self, forKey: .depth)
        heads = try c.decode(Int.self, forKey: .heads)
        mlpDim = try c.decodeIfPresent(Int.self, forKey: .mlpDim) ?? 4 * dim
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-6
        mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? [0.485, 0.456, 0.406]
        std = try c.decodeIfPresent([Float].self, forKey: .std) ?? [0.229, 0.224, 0.225]
        classNames = try c.decodeIfPresent([String].self, forKey: .classNames)
        actionNames = try c.decodeIfPresent([String].self, forKey: .actionNames)
        temporal = try c.decodeIfPresent(Temporal.self, forKey: .temporal)
        precision = try c.decodeIfPresent(PrecisionDefaults.self, forKey: .precision)
        det = try c.decodeIfPresent(DetectionHead.self, forKey: .det)
        tok = try c.decodeIfPresent(TokenHead.self, forKey: .tok)
        asso = try c.decodeIfPresent(AssociationHead.self, forKey: .asso)
        act = try c.decodeIfPresent(ActionHead.self, forKey: .act)
    }

    /// Trained grid (rows, columns) of patches.
    public var grid: (h: Int, w: Int) { (imageSize[0] / patchSize, imageSize[1] / patchSize) }
    /// Per-head dimension.
    public var headDim: Int { dim / heads }

    /// Checks the invariants above.
    public func validate() throws(WeightsError) {
        func bad(_ f: String, _ p: String) -> WeightsError { .invalidConfig(field: f, problem: p) }
        guard imageSize.count == 2, imageSize.allSatisfy({ $0 > 0 && $0 <= 16384 }) else { throw bad("image_size", "must be [height, width], positive, got \(imageSize)") }
        guard patchSize > 0, patchSize <= 1024 else { throw bad("patch_size", "must be positive, got \(patchSize)") }
        guard imageSize[0] % patchSize == 0, imageSize[1] % patchSize == 0 else { throw bad("image_size", "\(imageSize) is not a multiple of patch_size \(patchSize)") }
        guard dim > 0, dim <= 65536 else { throw bad("dim", "must be positive, got \(dim)") }
        guard depth > 0, depth <= 1024 else { throw bad("depth", "must be positive, got \(depth)") }
        guard heads > 0, dim % heads == 0 else { throw bad("heads", "\(heads) heads do not divide dim \(dim)") }
        guard mlpDim > 0, mlpDim <= 1 << 20 else { throw bad("mlp_dim", "must be positive, got \(mlpDim)") }
        guard layerNormEps > 0, layerNormEps.isFinite else { throw bad("layer_norm_eps", "must be positive, got \(layerNormEps)") }
        guard mean.count == 3, mean.allSatisfy(\.isFinite) else { throw bad("mean", "must be 3 finite values, got \(mean)") }
        guard std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw bad("std", "must be 3 positive values, got \(std)") }
        if let t = temporal {
            guard t.dim > 0, t.heads > 0, t.kvHeads > 0, t.window > 0 else { throw bad("temporal", "dim, heads, kv_heads and window must be positive") }
            guard t.dim % t.heads == 0 else { throw bad("temporal.heads", "\(t.heads) heads do not divide temporal dim \(t.dim)") }
            guard t.heads % t.kvHeads == 0 else { throw bad("temporal.kv_heads", "\(t.kvHeads) kv heads do not divide \(t.heads) heads") }
        }
        if let p = precision, let blank = p.keepF32.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw bad("precision.keep_f32", "entry \(blank) is empty")
        }
        try validateHeads()
    }

    /// The config stored in `file`'s metadata, or inferred from its tensor shapes when absent.
    /// `heads` overrides (inference only; default dim/64, at least 1); `imageSize` gives the
    /// trained size when the grid is not square.
    public static func from(_ file: SafetensorsFile, heads: Int? = nil, imageSize: [Int]? = nil) throws(WeightsError) -> ModelConfig {
        if let json = file.metadata["kvvision.config"] {
            let config: ModelConfig
            do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                throw .badConfig(path: file.path, reason: JSONErrorReason.describe(error))
            }
            try config.validate()
            return config
        }
        return try infer(file, heads: heads, imageSize: imageSize)
    }

    /// Infers a config from timm ViT tensor names and shapes.
    public static func infer(_ file: SafetensorsFile, heads: Int? = nil, imageSize: [Int]? = nil) throws(WeightsError) -> ModelConfig {
        func need(_ name: String) throws(WeightsError) -> [Int] {
            guard let e = file.entries[name] else { throw .cannotInferConfig(path: file.path, reason: "no tensor '\(name)' (not a timm ViT?)") }
            return e.shape
        }
        let proj = try need("patch_embed.proj.weight")
        guard proj.count == 4, proj[1] == 3, proj[2] == proj[3], proj[2] > 0 else {
            throw .cannotInferConfig(path: file.path, reason: "patch_embed.proj.weight shape \(proj) is not [dim, 3, p, p]")
        }
        let dim = proj[0], patch = proj[2]
        var depth = 0
        while file.entries["blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw .cannotInferConfig(path: file.path, reason: "no blocks.0.* tensors") }
        let fc1 = try need("blocks.0.mlp.fc1.weight")
        guard fc1.count == 2 else { throw .cannotInferConfig(path: file.path, reason: "blocks.0.mlp.fc1.weight shape \(fc1)") }
        let pos = try need("pos_embed")
        guard pos.count == 3, pos[0] == 1, pos[2] == dim, pos[1] >= 2 else {
            throw .cannotInferConfig(path: file.path, reason: "pos_embed shape \(pos) is not [1, 1+P, \(dim)]")
        }
        let patches = pos[1] - 1
        var size: [Int]
        if let imageSize {
            size = imageSize
            guard imageSize.count == 2, (imageSize[0] / max(patch, 1)) * (imageSize[1] / max(patch, 1)) == patches else {
                throw .cannotInferConfig(path: file.path, reason: "image size \(imageSize) does not give the \(patches) patches of pos_embed")
            }
        } else {
            let side = Int(Double(patches).squareRoot().rounded())
            guard side * side == patches else {
                throw .cannotInferConfig(path: file.path, reason: "\(patches) position embeddings are not a square grid; give the image size")
            }
            size = [side * patch, side * patch]
        }
        var config = ModelConfig(name: "timm-vit", imageSize: size, patchSize: patch, dim: dim, depth: depth,
                                 heads: heads ?? max(1, dim / 64), mlpDim: fc1[0])
        config.name = (file.path as NSString).lastPathComponent
        try config.validate()
        return config
    }

    /// Named random-weight shapes for benchmarks: deit-tiny, deit-small, deit-base.
    public static func preset(_ name: String) -> ModelConfig? {
        switch name {
        case "deit-tiny": return ModelConfig(name: name, imageSize: [224, 224], patchSize: 16, dim: 192, depth: 12, heads: 3)
        case "deit-small": return ModelConfig(name: name, imageSize: [224, 224], patchSize: 16, dim: 384, depth: 12, heads: 6)
        case "deit-base": return ModelConfig(name: name, imageSize: [224, 224], patchSize: 16, dim: 768, depth: 12, heads: 12)
        default: return nil
        }
    }

    /// Names accepted by `preset`.
    public static let presetNames = ["deit-tiny", "deit-small", "deit-base"]
}
