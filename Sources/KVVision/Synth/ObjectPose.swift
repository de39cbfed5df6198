/// Where an object is drawn in one frame: centre in pixels (y down) and rotation in radians.
///
/// Thread-safety: a value type, `Sendable`.
public struct ObjectPose: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var angle: Double

    public init(x: Double, y: Double, angle: Double) {
        self.x = x
        self.y = y
        self.angle = angle
    }
}
