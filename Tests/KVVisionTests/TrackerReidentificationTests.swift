import Foundation
import Testing
@testable import KVVision

/// Re-identification of look-alikes: the size cue and the revision of identities given on boxes
/// cut by the frame's edge (`reid_size_weight`, `reid_revision_steps`).
@Suite struct TrackerReidentificationTests {
    static let frame = Box(x: 0, y: 0, w: 320, h: 240)
    static let look: [Float] = [1, 0, 0]

    /// Two look-alikes (same appearance): A large (40 px) on the left, B small (20 px) on the
    /// right; both leave for 30 steps (past `max_coast`, so only re-identification finds them).
    static func twoLostLookAlikes(_ config: TrackerConfig) throws -> Tracker {
        var tracker = try Tracker(config: config)
        let a = Box(x: 50, y: 50, w: 40, h: 40), b = Box(x: 200, y: 50, w: 20, h: 20)
        let out = try tracker.update(position: 0, detections: [Detection(box: a, score: 0.9), Detection(box: b, score: 0.9)],
                                     appearances: [look, look], bounds: frame)
        #expect(out.map(\.id) == [1, 2])
        for p in 1...30 { _ = try tracker.update(position: p, detections: [], appearances: [], bounds: frame) }
        #expect(tracker.tracks.allSatisfy { $0.state == .lost })
        return tracker
    }

    @Test func sizeTellsLookAlikesApart() throws {
        // The small one comes back close to where the large one was last seen.
        let back = Detection(box: Box(x: 60, y: 50, w: 20, h: 20), score: 0.9)
        var tracker = try Self.twoLostLookAlikes(TrackerConfig())
        let out = try tracker.update(position: 31, detections: [back], appearances: [Self.look], bounds: Self.frame)
        #expect(out.map(\.id) == [2])
        var noSize = TrackerConfig()
        noSize.reidSizeWeight = 0
        var plain = try Self.twoLostLookAlikes(noSize)
        #expect(try plain.update(position: 31, detections: [back], appearances: [Self.look], bounds: Self.frame).map(\.id) == [1])
    }

    /// B re-enters at the left edge: its first boxes are slivers that fit A as well (closer to
    /// where A left), so it is re-identified as A; once whole in view, its size says B, and the
    /// identity passes to B while A goes back to lost, as it was.
    @Test func identityGivenOnAnEdgeSliverIsRevised() throws {
        func run(_ config: TrackerConfig) throws -> (ids: [Int], tracker: Tracker) {
            var tracker = try Self.twoLostLookAlikes(config)
            var ids: [Int] = []
            let boxes = [3.0, 6, 9, 12, 15, 18, 20].map { Box(x: 0, y: 50, w: $0, h: min(20, 8 + $0)) } + [Box(x: 2, y: 50, w: 20, h: 20)]
            for (i, box) in boxes.enumerated() {
                let out = try tracker.update(position: 31 + i, detections: [Detection(box: box, score: 0.9)], appearances: [Self.look],
                                             bounds: Self.frame)
                ids.append(out.first?.id ?? 0)
            }
            return (ids, tracker)
        }
        let (ids, tracker) = try run(TrackerConfig())
        #expect(ids.first == 1, "the sliver fits A best: \(ids)")
        #expect(ids.last == 2, "whole in view, the identity passed to B: \(ids)")
        let a = try #require(tracker.tracks.first { $0.id == 1 })
        #expect(a.state == .lost && a.detection.box == Box(x: 50, y: 50, w: 40, h: 40) && a.fullBox == a.detection.box)
        // Without revision the first guess stays; without bounds no box counts as cut, so the
        // sliver's size already rules A out.
        var fixed = TrackerConfig()
        fixed.reidRevisionSteps = 0
        #expect(try run(fixed).ids.allSatisfy { $0 == 1 })
        #expect(Tracker.isCut(Box(x: 0, y: 50, w: 3, h: 11), by: Self.frame) && !Tracker.isCut(Box(x: 0, y: 50, w: 3, h: 11), by: nil))
        #expect(!Tracker.isCut(Box(x: 2, y: 50, w: 20, h: 20), by: Self.frame) && Tracker.isCut(Box(x: 300, y: 50, w: 19.5, h: 20), by: Self.frame))
    }

    @Test func revisionSettingsDecodeAndValidate() throws {
        let c = try JSONDecoder().decode(TrackerConfig.self, from: Data(#"{"reid_size_weight":0.5,"reid_revision_steps":3}"#.utf8))
        #expect(c.reidSizeWeight == 0.5 && c.reidRevisionSteps == 3)
        var bad = TrackerConfig()
        bad.reidSizeWeight = -1
        #expect(throws: TrackingError.invalidConfig(key: "reid_size_weight", value: "-1.0", rule: "must be finite and ≥ 0")) { try bad.validate() }
    }
}
