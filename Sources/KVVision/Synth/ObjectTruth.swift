/// The ground truth of one object in one frame.
///
/// `box` (x, y, w, h in pixels, integers) is tight around the object's *visible* pixels — those
/// inside the image whose share of the final pixel colour (own coverage × what the objects in
/// front let through) is ≥ 0.5. When no pixel is visible (`visibility == 0`: fully occluded or
/// fully outside), `box` is the object's full extent (every pixel with coverage ≥ 0.5, as if
/// nothing were in front), clipped to the image when it overlaps the image and unclipped
/// otherwise. `visibility = visiblePixels / totalPixels`, where `totalPixels` counts the object's
/// pixels on the whole plane, off-image ones included.
///
/// Thread-safety: a value type, `Sendable`.
public struct ObjectTruth: Sendable, Equatable {
    public var id: Int
    public var shapeClass: ShapeClass
    public var action: ObjectAction
    public var x: Int
    public var y: Int
    public var w: Int
    public var h: Int
    public var visiblePixels: Int
    public var totalPixels: Int

    /// Visible fraction, 0…1.
    public var visibility: Double { totalPixels > 0 ? Double(visiblePixels) / Double(totalPixels) : 0 }
}

extension ObjectTruth {
    /// The box as the library's one box type.
    public var box: Box { Box(x: Double(x), y: Double(y), w: Double(w), h: Double(h)) }
}
