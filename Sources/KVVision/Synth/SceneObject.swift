/// One ShapesWorld object for a whole clip: identity, appearance and action segments.
///
/// Invariants: `id` ≥ 1 and unique in the clip (kept across exits and re-entries); `depth` is a
/// unique draw rank (0 = furthest back); `segments` are sorted, contiguous, and cover every frame
/// of the clip (0-based inclusive ranges here; labels.json writes them 1-based).
///
/// Thread-safety: a value type, `Sendable`.
public struct SceneObject: Sendable, Equatable {
    /// One action over an inclusive 0-based frame range.
    public struct Segment: Sendable, Equatable {
        public var first: Int
        public var last: Int
        public var action: ObjectAction

        public init(first: Int, last: Int, action: ObjectAction) {
            self.first = first
            self.last = last
            self.action = action
        }
    }

    public var id: Int
    public var shapeClass: ShapeClass
    /// Body colour, RGB 0…255 (random; never the class cue).
    public var color: [UInt8]
    /// Marker colour: black or white, whichever contrasts more with `color`.
    public var markerColor: [UInt8]
    /// Nominal size in pixels (circle diameter, square side, triangle side, cross span).
    public var size: Double
    /// Draw rank: higher is in front.
    public var depth: Int
    /// The id of the earlier object this one copies (class and colour), if it is a look-alike.
    public var lookalikeOf: Int?
    public var segments: [Segment]

    /// An object; `markerColor` defaults to the contrasting black or white.
    public init(id: Int, shapeClass: ShapeClass, color: [UInt8], markerColor: [UInt8]? = nil, size: Double, depth: Int,
                lookalikeOf: Int? = nil, segments: [Segment]) {
        self.id = id
        self.shapeClass = shapeClass
        self.color = color
        self.markerColor = markerColor ?? SceneScript.markerColor(for: color)
        self.size = size
        self.depth = depth
        self.lookalikeOf = lookalikeOf
        self.segments = segments
    }

    /// The action at 0-based `frame` (the last segment's past the end).
    public func action(at frame: Int) -> ObjectAction {
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].first <= frame { lo = mid } else { hi = mid - 1 }
        }
        return segments.isEmpty ? .idle : segments[lo].action
    }
}
