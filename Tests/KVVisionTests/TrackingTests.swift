import Foundation
import Testing
@testable import KVVision

@Suite struct KalmanFilterTests {
    struct Reference: Decodable {
        struct Step: Decodable { var step: String; var arg: Arg; var x: [Double]; var p: [Double] }
        enum Arg: Decodable {
            case dt(Double), box([Double])
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let d = try? c.decode(Double.self) { self = .dt(d) } else { self = .box(try c.decode([Double].self)) }
            }
        }
        var steps: [Step]
    }

    /// The filter against tools/reference/kalman_reference.py (numpy, full matrices).
    @Test func matchesNumpyReference() throws {
        let data = try Data(contentsOf: TestFiles.fixture("tracking/kalman.json"))
        let ref = try JSONDecoder().decode(Reference.self, from: data)
        var filter: KalmanFilter?
        for (n, step) in ref.steps.enumerated() {
            switch (step.step, step.arg) {
            case let ("init", .box(b)): filter = KalmanFilter(box: Box(x: b[0], y: b[1], w: b[2], h: b[3]))
            case let ("predict", .dt(dt)): filter?.predict(dt: dt)
            case let ("update", .box(b)): filter?.update(box: Box(x: b[0], y: b[1], w: b[2], h: b[3]))
            default: Issue.record("unknown step \(step.step)")
            }
            let f = try #require(filter)
            for i in 0..<8 { #expect(abs(f.x[i] - step.x[i]) <= 1e-9 * max(1, abs(step.x[i])), "step \(n) x[\(i)]") }
            for i in 0..<64 { #expect(abs(f.p[i] - step.p[i]) <= 1e-9 * max(1, abs(step.p[i])), "step \(n) p[\(i)]") }
        }
    }

    @Test func predictionFollowsConstantVelocity() {
        var f = KalmanFilter(box: Box(x: 0, y: 0, w: 10, h: 10))
        for k in 1...20 { f.predict(); f.update(box: Box(x: Double(3 * k), y: 0, w: 10, h: 10)) }
        f.predict()
        #expect(abs(f.box.x - 63) < 0.5 && abs(f.box.w - 10) < 0.01)
    }
}

@Suite struct TrackerTests {
    static func box(_ x: Double, _ y: Double = 50, size: Double = 20) -> Box { Box(x: x, y: y, w: size, h: size) }

    @Test func lifecycleTentativeConfirmedLostRemoved() throws {
        var config = TrackerConfig()
        config.maxLost = 3
        config.reidWithoutAppearance = false
        var tracker = try Tracker(config: config)
        // First position: confirmed at once.
        var out = try tracker.update(position: 0, detections: [Detection(box: Self.box(10), score: 0.9)])
        #expect(out.map(\.id) == [1] && out[0].state == .confirmed)
        // A second object appears later: tentative for min_hits − 1 steps, not reported.
        out = try tracker.update(position: 1, detections: [Detection(box: Self.box(12), score: 0.9), Detection(box: Self.box(200), score: 0.9)])
        #expect(out.map(\.id) == [1])
        out = try tracker.update(position: 2, detections: [Detection(box: Self.box(14), score: 0.9), Detection(box: Self.box(200), score: 0.9)])
        #expect(out.map(\.id) == [1])
        out = try tracker.update(position: 3, detections: [Detection(box: Self.box(16), score: 0.9), Detection(box: Self.box(200), score: 0.9)])
        #expect(out.map(\.id) == [1, 2])
        // Object 1 vanishes: lost, kept max_lost steps, then removed; its id is never reused.
        for p in 4...8 { _ = try tracker.update(position: p, detections: [Detection(box: Self.box(200), score: 0.9)]) }
        #expect(tracker.tracks.map(\.id) == [2])
        out = try tracker.update(position: 9, detections: [Detection(box: Self.box(200), score: 0.9), Detection(box: Self.box(10), score: 0.9)])
        for p in 10...11 { out = try tracker.update(position: p, detections: [Detection(box: Self.box(200), score: 0.9), Detection(box: Self.box(10), score: 0.9)]) }
        #expect(out.map(\.id) == [2, 3], "a new object gets a new id, never a reused one")
    }

    @Test func lowScoreDetectionsOnlyExtendTracks() throws {
        var tracker = try Tracker()
        _ = try tracker.update(position: 0, detections: [Detection(box: Self.box(10), score: 0.9)])
        var out = try tracker.update(position: 1, detections: [Detection(box: Self.box(11), score: 0.3), Detection(box: Self.box(150), score: 0.3)])
        #expect(out.map(\.id) == [1] && out[0].detection.score == 0.3)
        out = try tracker.update(position: 2, detections: [Detection(box: Self.box(150), score: 0.3)])
        #expect(out.isEmpty && tracker.tracks.count == 1, "a low detection never starts a track")
    }

    @Test func classGateKeepsClassesApart() throws {
        var tracker = try Tracker()
        _ = try tracker.update(position: 0, detections: [Detection(box: Self.box(10), score: 0.9, label: "circle")])
        let out = try tracker.update(position: 1, detections: [Detection(box: Self.box(11), score: 0.9, label: "square")])
        #expect(out.isEmpty, "a square never continues a circle's track")
    }

    @Test func reidentifiesByAppearanceAfterLongExit() throws {
        var config = TrackerConfig()
        config.maxLost = 500
        var tracker = try Tracker(config: config)
        let red: [Float] = [1, 0, 0], blue: [Float] = [0, 1, 0]
        _ = try tracker.update(position: 0, detections: [Detection(box: Self.box(10), score: 0.9), Detection(box: Self.box(150), score: 0.9)],
                               appearances: [red, blue])
        // Both leave for 300 steps (far longer than any temporal window), then come back swapped in place.
        for p in 1...300 { _ = try tracker.update(position: p, detections: [], appearances: []) }
        let out = try tracker.update(position: 301, detections: [Detection(box: Self.box(10), score: 0.9), Detection(box: Self.box(150), score: 0.9)],
                                     appearances: [blue, red])
        #expect(out.count == 2)
        #expect(out.first { $0.detection.box.x == 10 }?.id == 2 && out.first { $0.detection.box.x == 150 }?.id == 1)
    }

    @Test func deterministicAndRejectsBadInput() throws {
        var rng = SplitMix64(seed: 7)
        var steps: [[Detection]] = []
        for _ in 0..<60 {
            steps.append((0..<5).map { _ in Detection(box: Self.box(Double(rng.nextInt(in: 0...300)), Double(rng.nextInt(in: 0...200))),
                                                      score: Double(rng.nextInt(in: 0...100)) / 100) })
        }
        func run() throws -> [[Int]] {
            var t = try Tracker()
            return try steps.enumerated().map { try t.update(position: $0.offset, detections: $0.element).map(\.id) }
        }
        #expect(try run() == run())
        var t = try Tracker()
        _ = try t.update(position: 5, detections: [])
        #expect(throws: TrackingError.self) { try t.update(position: 5, detections: []) }
        #expect(throws: TrackingError.self) { try t.update(position: 6, detections: [Detection(box: Self.box(1), score: 1)], appearances: []) }
    }

    @Test func configDecodesSnakeCaseWithDefaultsAndValidates() throws {
        let c = try JSONDecoder().decode(TrackerConfig.self, from: Data(#"{"min_hits":5,"kalman":{"velocity":0.01}}"#.utf8))
        #expect(c.minHits == 5 && c.kalman.velocity == 0.01 && c.highThreshold == TrackerConfig().highThreshold)
        var bad = TrackerConfig()
        bad.lowThreshold = 0.9
        #expect(throws: TrackingError.invalidConfig(key: "high_threshold", value: "0.5", rule: "must be in low_threshold...1")) { try bad.validate() }
        #expect(throws: TrackingError.self) { try Tracker(config: bad) }
    }
}
