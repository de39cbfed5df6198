import Foundation

/// The `labels.json` document of a ShapesWorld clip as Synth writes it (Eval reads the parts it
/// needs with its own `EvalLabels`): vocabularies, clip facts, the full scenario and seed,
/// and every object's identity, colour and action segments.
///
/// Format (`"format": "kvvision.shapesworld.labels"`, `"version": 2`; `ShapesWorldLabelsFormat`), snake_case keys, sorted:
/// `classes`, `actions` (index order; gt.txt's class column is 1-based into `classes`),
/// `width`, `height`, `fps`, `frames`, `seed`, `scenario` (every `ScenarioConfig` field),
/// `objects`: `[{"id", "class", "color": [r,g,b], "size", "lookalike_of"?, "actions":
/// [{"from", "to", "action"}]}]` with 1-based inclusive frame ranges that cover every frame.
///
/// Thread-safety: a value type, `Sendable`.
public struct SynthLabels: Codable, Sendable, Equatable {
    public struct Segment: Codable, Sendable, Equatable {
        public var from: Int
        public var to: Int
        public var action: String
    }

    public struct Object: Codable, Sendable, Equatable {
        public var id: Int
        public var `class`: String
        public var color: [UInt8]
        public var size: Double
        public var lookalikeOf: Int?
        public var actions: [Segment]

        enum CodingKeys: String, CodingKey { case id, `class`, color, size, lookalikeOf = "lookalike_of", actions }
    }

    public var format: String = ShapesWorldLabelsFormat.name
    public var version: Int = ShapesWorldLabelsFormat.version
    public var classes: [String] = ShapeClass.names
    public var actions: [String] = ObjectAction.names
    public var width: Int
    public var height: Int
    public var fps: Int
    public var frames: Int
    public var seed: UInt64
    public var scenario: ScenarioConfig
    public var objects: [Object]

    /// The labels of a simulated clip.
    public init(script: SceneScript) {
        width = script.config.width
        height = script.config.height
        fps = script.config.fps
        frames = script.frames
        seed = script.seed
        scenario = script.config
        objects = script.objects.map { o in
            Object(id: o.id, class: o.shapeClass.name, color: o.color, size: (o.size * 100).rounded() / 100,
                   lookalikeOf: o.lookalikeOf,
                   actions: o.segments.map { Segment(from: $0.first + 1, to: $0.last + 1, action: $0.action.name) })
        }
    }

    /// Pretty, key-sorted JSON bytes ending in a newline (byte-identical for identical labels).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }
}
