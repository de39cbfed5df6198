/// The settings of the default model's heads, as stored in `kvvision.config` under `det`, `tok`,
/// `asso` and `act` (docs/model.md, "Default model heads"; snake_case keys). A model file without
/// them is an encoder only (`kvvision encode` runs it; `track` then needs `--detections`).
///
/// Defaults are those of the shipped model and are written once, here; absent keys take them.
/// Invariants after `ModelConfig.validate()`: every size positive, `token_dim` = `app_dim` +
/// `mot_dim`, `mot_inputs` = 11 + the number of classes, act heads a multiple of its kv heads,
/// both windows ≥ 1.
///
/// Thread-safety: value types.
extension ModelConfig {
    /// `det`: the CenterNet-style detection head (stride-8 maps from tokens ⊕ a pixel stem).
    public struct DetectionHead: Codable, Sendable, Equatable {
        public var stride = 8
        public var upChannels = 64
        public var stemChannels = [24, 48, 64]
        public var neckChannels = 96
        public var peakKernel = 3
        public var topK = 40
        public var minScore: Float = 0.05

        public init() {}
        enum CodingKeys: String, CodingKey {
            case stride, upChannels = "up_channels", stemChannels = "stem_channels", neckChannels = "neck_channels"
            case peakKernel = "peak_kernel", topK = "top_k", minScore = "min_score"
        }
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stride = try c.decodeIfPresent(Int.self, forKey: .stride) ?? stride
            upChannels = try c.decodeIfPresent(Int.self, forKey: .upChannels) ?? upChannels
            stemChannels = try c.decodeIfPresent([Int].self, forKey: .stemChannels) ?? stemChannels
            neckChannels = try c.decodeIfPresent(Int.self, forKey: .neckChannels) ?? neckChannels
            peakKernel = try c.decodeIfPresent(Int.self, forKey: .peakKernel) ?? peakKernel
            topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? topK
            minScore = try c.decodeIfPresent(Float.self, forKey: .minScore) ?? minScore
        }
    }

    /// `tok`: object tokens = appearance (3×3 samples of the appearance map) ⊕ motion/geometry.
    public struct TokenHead: Codable, Sendable, Equatable {
        public var appChannels = 64
        public var appGrid = 3
        public var appHidden = 128
        public var appDim = 64
        public var motInputs = 15
        public var motHidden = 64
        public var motDim = 64
        public var tokenDim = 128

        public init() {}
        enum CodingKeys: String, CodingKey {
            case appChannels = "app_channels", appGrid = "app_grid", appHidden = "app_hidden", appDim = "app_dim"
            case motInputs = "mot_inputs", motHidden = "mot_hidden", motDim = "mot_dim", tokenDim = "token_dim"
        }
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            appChannels = try c.decodeIfPresent(Int.self, forKey: .appChannels) ?? appChannels
            appGrid = try c.decodeIfPresent(Int.self, forKey: .appGrid) ?? appGrid
            appHidden = try c.decodeIfPresent(Int.self, forKey: .appHidden) ?? appHidden
            appDim = try c.decodeIfPresent(Int.self, forKey: .appDim) ?? appDim
            motInputs = try c.decodeIfPresent(Int.self, forKey: .motInputs) ?? motInputs
            motHidden = try c.decodeIfPresent(Int.self, forKey: .motHidden) ?? motHidden
            motDim = try c.decodeIfPresent(Int.self, forKey: .motDim) ?? motDim
            tokenDim = try c.decodeIfPresent(Int.self, forKey: .tokenDim) ?? (appDim + motDim)
        }
    }

    /// `asso`: single-head association attention of detections over tracks' cached tokens.
    public struct AssociationHead: Codable, Sendable, Equatable {
        public var dim = 64
        public var heads = 1
        public var rope = false
        /// Frames of track tokens a detection is compared with (t − window … t − 1).
        public var window = 64

        public init() {}
        enum CodingKeys: String, CodingKey { case dim, heads, rope, window }
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dim = try c.decodeIfPresent(Int.self, forKey: .dim) ?? dim
            heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? heads
            rope = try c.decodeIfPresent(Bool.self, forKey: .rope) ?? rope
            window = try c.decodeIfPresent(Int.self, forKey: .window) ?? window
        }
    }

    /// `act`: owner-restricted grouped-query attention over a track's own tokens → action logits.
    public struct ActionHead: Codable, Sendable, Equatable {
        public var heads = 4
        public var kvHeads = 2
        public var headDim = 32
        public var ropeBase = 10_000.0
        public var hidden = 128
        /// Frames of the track's own tokens read (t − window + 1 … t).
        public var window = 64
        /// Width of the appearance-change input appended to each act token (0: none; docs/model.md,
        /// "act"): `act.change` maps the change of the box's grid samples since the track's
        /// previous observation, per frame, to this many channels.
        public var changeDim = 0

        public init() {}
        enum CodingKeys: String, CodingKey {
            case heads, kvHeads = "kv_heads", headDim = "head_dim", ropeBase = "rope_base", hidden, window, changeDim = "change_dim"
        }
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? heads
            kvHeads = try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? kvHeads
            headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? headDim
            ropeBase = try c.decodeIfPresent(Double.self, forKey: .ropeBase) ?? ropeBase
            hidden = try c.decodeIfPresent(Int.self, forKey: .hidden) ?? hidden
            window = try c.decodeIfPresent(Int.self, forKey: .window) ?? window
            changeDim = try c.decodeIfPresent(Int.self, forKey: .changeDim) ?? changeDim
        }
    }

    /// Whether the file describes the four heads of a tracking model (all of `det`, `tok`,
    /// `asso`, `act` and class/action names present).
    public var hasTrackingHeads: Bool {
        det != nil && tok != nil && asso != nil && act != nil && classNames != nil && actionNames != nil
    }

    /// Checks the heads' invariants (called by `validate()`).
    func validateHeads() throws(WeightsError) {
        func bad(_ f: String, _ p: String) -> WeightsError { .invalidConfig(field: f, problem: p) }
        let size = 1...65536
        if let d = det {
            guard (1...64).contains(d.stride), imageSize[0] % d.stride == 0, imageSize[1] % d.stride == 0 else {
                throw bad("det.stride", "\(d.stride) must be in 1...64 and divide the image size \(imageSize)")
            }
            guard patchSize % d.stride == 0 else {
                throw bad("det.stride", "\(d.stride) must divide patch_size \(patchSize)")
            }
            guard size.contains(d.upChannels), size.contains(d.neckChannels) else { throw bad("det", "up_channels and neck_channels must be positive") }
            guard !d.stemChannels.isEmpty, d.stemChannels.count <= 8, d.stemChannels.allSatisfy(size.contains),
                  1 << d.stemChannels.count == d.stride else {
                throw bad("det.stem_channels", "\(d.stemChannels): one positive width per stride-2 conv, 2^count = stride \(d.stride)")
            }
            guard d.peakKernel == 3 else { throw bad("det.peak_kernel", "only 3 is supported, got \(d.peakKernel)") }
            guard (1...4096).contains(d.topK) else { throw bad("det.top_k", "must be in 1...4096, got \(d.topK)") }
            guard d.minScore.isFinite, (0...1).contains(d.minScore) else { throw bad("det.min_score", "must be in 0...1, got \(d.minScore)") }
        }
        if let t = tok {
            guard [t.appChannels, t.appHidden, t.appDim, t.motHidden, t.motDim].allSatisfy(size.contains) else {
                throw bad("tok", "sizes must be positive")
            }
            guard (1...8).contains(t.appGrid) else { throw bad("tok.app_grid", "must be in 1...8, got \(t.appGrid)") }
            guard t.tokenDim == t.appDim + t.motDim else { throw bad("tok.token_dim", "\(t.tokenDim) ≠ app_dim + mot_dim = \(t.appDim + t.motDim)") }
            if let classes = classNames, t.motInputs != 11 + classes.count {
                throw bad("tok.mot_inputs", "\(t.motInputs) ≠ 11 + \(classes.count) classes")
            }
        }
        if let a = asso {
            guard size.contains(a.dim) else { throw bad("asso.dim", "must be positive, got \(a.dim)") }
            guard a.heads == 1, !a.rope else { throw bad("asso", "only one head without RoPE is supported") }
            guard (1...4096).contains(a.window) else { throw bad("asso.window", "must be in 1...4096, got \(a.window)") }
        }
        if let a = act {
            guard (1...256).contains(a.heads), (1...256).contains(a.kvHeads), a.heads % a.kvHeads == 0 else {
                throw bad("act.heads", "\(a.heads) heads must be a multiple of kv_heads \(a.kvHeads)")
            }
            guard (2...1024).contains(a.headDim), a.headDim % 2 == 0 else { throw bad("act.head_dim", "must be even and in 2...1024, got \(a.headDim)") }
            guard a.ropeBase.isFinite, a.ropeBase > 1 else { throw bad("act.rope_base", "must be > 1, got \(a.ropeBase)") }
            guard size.contains(a.hidden) else { throw bad("act.hidden", "must be positive, got \(a.hidden)") }
            guard (1...4096).contains(a.window) else { throw bad("act.window", "must be in 1...4096, got \(a.window)") }
            guard (0...65536).contains(a.changeDim) else { throw bad("act.change_dim", "must be in 0...65536, got \(a.changeDim)") }
        }
        if let names = classNames, names.isEmpty || names.count > 1024 { throw bad("class_names", "must name 1...1024 classes") }
        if let names = actionNames, names.isEmpty || names.count > 1024 { throw bad("action_names", "must name 1...1024 actions") }
    }
}
