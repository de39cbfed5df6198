/// The ground truth of one frame: every object in the scene, sorted by id.
///
/// Every object of the clip appears in every frame (objects out of view or hidden have
/// visibility 0), so `objects.count` equals the scene's object count.
///
/// Thread-safety: a value type, `Sendable`.
public struct FrameTruth: Sendable, Equatable {
    /// 0-based frame index (gt.txt writes frame + 1).
    public var frame: Int
    public var objects: [ObjectTruth]
}
