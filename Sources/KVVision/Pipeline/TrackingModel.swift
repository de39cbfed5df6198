import Foundation

/// A complete tracking model — the ViT encoder and the `det`, `tok`, `asso` and `act` heads — loaded
/// from one safetensors file whose `kvvision.config` describes all of them (docs/model.md).
///
/// Loading is strict: every tensor the config implies must be present with its shape, and a tensor
/// no part uses is an error (`WeightsError.unusedTensors`). The file's `tracker` block, when
/// present, gives the tracker's defaults for this model (`TrackerConfig` keys).
///
/// Invariants: immutable after load. Thread-safety: `Sendable`; one instance serves any number of
/// streams, each with its own `ModelSession` (per-stream state, like whisper.cpp's context/state).
public final class TrackingModel: Sendable {
    public let path: String
    public let config: ModelConfig
    public let encoder: VisionTransformer
    public let det: DetectionHead
    public let tok: TokenHead
    public let asso: AssociationHead
    public let act: ActionHead
    /// The model's tracker defaults (`TrackerConfig()` where the file names none).
    public let tracker: TrackerConfig
    /// FNV-1a hash of the file (for the `stream` record).
    public let hash: String?

    /// Whether `file` describes a tracking model (its config has all four heads).
    public static func isTrackingModel(_ file: SafetensorsFile) -> Bool {
        (try? ModelConfig.from(file))?.hasTrackingHeads ?? false
    }

    /// Loads the model at `path`; `precision` overrides the encoder's default precision.
    public static func load(path: String, precision: Precision? = nil) throws(PipelineError) -> TrackingModel {
        do {
            let file = try SafetensorsFile(path: path)
            return try TrackingModel(file: file, precision: precision)
        } catch let error as PipelineError {
            throw error
        } catch let error as WeightsError {
            throw .model(error)
        } catch {
            throw .model(.badConfig(path: path, reason: "\(error)"))
        }
    }

    /// Loads from an open file.
    public init(file: SafetensorsFile, precision: Precision? = nil) throws(PipelineError) {
        do {
            let config = try ModelConfig.from(file)
            guard config.hasTrackingHeads else {
                throw WeightsError.invalidConfig(field: "kvvision.config", problem: "\(file.path) has no det/tok/asso/act heads (an encoder only)")
            }
            let (encoder, encoderUnused) = try VisionTransformer.load(file, config: config, precision: precision)
            var loader = WeightsLoader(file: file)
            det = try DetectionHead.load(&loader, model: config, precision: encoder.precision)
            tok = try TokenHead.load(&loader, model: config)
            asso = try AssociationHead.load(&loader, model: config)
            act = try ActionHead.load(&loader, model: config)
            let unused = Set(encoderUnused).intersection(loader.unused).sorted()
            guard unused.isEmpty else { throw WeightsError.unusedTensors(path: file.path, names: unused) }
            self.encoder = encoder
            self.config = config
        } catch let error as WeightsError {
            throw .model(error)
        } catch {
            throw .model(.badConfig(path: file.path, reason: "\(error)"))
        }
        path = file.path
        tracker = try Self.trackerDefaults(file)
        hash = FNV1a.fileHex(file.path)
    }

    /// The `tracker` object of the file's `kvvision.config`, decoded as `TrackerConfig` (absent
    /// keys take `TrackerConfig`'s defaults) and validated.
    static func trackerDefaults(_ file: SafetensorsFile) throws(PipelineError) -> TrackerConfig {
        struct Block: Decodable { var tracker: TrackerConfig? }
        guard let json = file.metadata["kvvision.config"] else { return TrackerConfig() }
        let config: TrackerConfig
        do {
            config = try JSONDecoder().decode(Block.self, from: Data(json.utf8)).tracker ?? TrackerConfig()
        } catch {
            throw .model(.badConfig(path: file.path, reason: "tracker: " + JSONErrorReason.describe(error)))
        }
        do { try config.validate() } catch { throw .tracking(error) }
        return config
    }

    /// Class names (heatmap channel order) and action names (act logit order).
    public var classNames: [String] { config.classNames ?? [] }
    public var actionNames: [String] { config.actionNames ?? [] }
    /// Most detections per frame (the det head's top K): the temporal windows' tokens per frame.
    public var maxObjects: Int { det.config.topK }
}
