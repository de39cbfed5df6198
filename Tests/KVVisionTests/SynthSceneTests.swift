import Foundation
import Testing
@testable import KVVision

/// ShapesWorld scenario parameters, PRNG and scene simulation.
@Suite struct SynthSceneTests {
    static func small(_ preset: String = "standard", seconds: Double = 4) throws -> ScenarioConfig {
        var c = try ScenarioConfig.preset(preset)
        c.width = 160
        c.height = 120
        c.objectSize = 16...40
        c.duration = seconds
        return c
    }

    @Test func prngIsTheSameForTheSameSeedAndDiffersAcrossSeedsAndStreams() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let sa = (0..<16).map { _ in a.next() }, sb = (0..<16).map { _ in b.next() }, sc = (0..<16).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        var d1 = SplitMix64.derived(seed: 42, stream: 1), d2 = SplitMix64.derived(seed: 42, stream: 2)
        #expect(d1.next() != d2.next())
        // SplitMix64 reference value for seed 0 (first output of the published algorithm).
        var z = SplitMix64(seed: 0)
        #expect(z.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test func prngIntegersStayInRange() {
        var r = SplitMix64(seed: 9)
        for _ in 0..<2000 {
            let v = r.int(in: -3...5)
            #expect((-3...5).contains(v))
            let u = r.uniform(2...3)
            #expect(u >= 2 && u <= 3)
        }
        #expect(r.weighted([0, 0, 1]) == 2)
    }

    @Test func presetsValidateAndUnknownPresetIsRejected() throws {
        for name in ScenarioConfig.presetNames { try ScenarioConfig.preset(name).validate() }
        #expect(throws: SynthError.unknownPreset(name: "extreme")) { try ScenarioConfig.preset("extreme") }
        let easy = try ScenarioConfig.preset("easy"), hard = try ScenarioConfig.preset("hard")
        #expect(easy.objects.upperBound < hard.objects.lowerBound)
        #expect(hard.objects.upperBound <= 8 && easy.objects.lowerBound >= 2)
    }

    @Test func validationRejectsOutOfRangeParameters() {
        var c = ScenarioConfig()
        c.width = 321
        #expect(throws: SynthError.self) { try c.validate() }
        c = ScenarioConfig(); c.height = -2
        #expect(throws: SynthError.self) { try c.validate() }
        c = ScenarioConfig(); c.exitRate = 1.5
        #expect(throws: SynthError.self) { try c.validate() }
        c = ScenarioConfig(); c.actionWeights = [0, 0, 0, 0, 0]
        #expect(throws: SynthError.self) { try c.validate() }
        c = ScenarioConfig(); c.duration = .nan
        #expect(throws: SynthError.self) { try c.validate() }
        c = ScenarioConfig(); c.objectSize = 20...200
        #expect(throws: SynthError.self) { try c.validate() }
    }

    @Test func scenarioRoundTripsThroughJSON() throws {
        let c = try ScenarioConfig.preset("hard")
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(ScenarioConfig.self, from: data) == c)
        #expect(String(decoding: data, as: UTF8.self).contains("\"walk_speed\":[20,60]"))
    }

    @Test func scenarioJSONKeysAreOptionalAndDefaultToTheirPreset() throws {
        let c = try JSONDecoder().decode(ScenarioConfig.self, from: Data(#"{"preset":"hard","noise":1,"objects":[2,2]}"#.utf8))
        var expected = try ScenarioConfig.preset("hard")
        expected.noise = 1
        expected.objects = 2...2
        #expect(c == expected)
        #expect(try JSONDecoder().decode(ScenarioConfig.self, from: Data("{}".utf8)) == ScenarioConfig())
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ScenarioConfig.self, from: Data(#"{"preset":"extreme"}"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ScenarioConfig.self, from: Data(#"{"objects":[5,2]}"#.utf8)) }
    }

    @Test func scenarioFilesNameTheProblem() throws {
        let dir = try TestFiles.scratchDirectory()
        func write(_ name: String, _ text: String) throws -> String {
            let url = dir.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let cases: [(String, String)] = [
            (try write("bad.json", "{\"noise\": "), "not valid JSON"),
            (try write("type.json", #"{"fps": "fast"}"#), "fps"),
            (try write("preset.json", #"{"preset": "extreme"}"#), "extreme"),
            (try write("range.json", #"{"exit_rate": 2}"#), "exit_rate"),
            (try write("camel.json", #"{"exitRate": 0.5}"#), "exitRate: unknown key"),
            (try write("old-labels.json", #"{"format": "kvvision.shapesworld.labels", "version": 1, "scenario": {}}"#), "version 1"),
            (dir.appendingPathComponent("missing.json").path, "no such file"),
        ]
        for (path, words) in cases {
            do {
                _ = try ScenarioFile.read(path)
                Issue.record("\(path) was accepted")
            } catch {
                #expect(error.description.contains(path) && error.description.contains(words), "\(error.description)")
                #expect(!error.description.contains("\n"))
            }
        }
        let ok = try ScenarioFile.read(try write("ok.json", #"{"preset": "easy", "distractors": 3}"#))
        #expect(ok.config.distractors == 3 && ok.config.preset == "easy" && ok.seed == nil)
    }

    @Test func sameSeedGivesTheSameScriptAndDifferentSeedsDiffer() throws {
        let c = try Self.small()
        let a = try SceneScript(config: c, seed: 11), b = try SceneScript(config: c, seed: 11), d = try SceneScript(config: c, seed: 12)
        #expect(a.objects == b.objects)
        #expect(a.poses == b.poses)
        #expect(a.poses != d.poses)
    }

    @Test func segmentsCoverEveryFrameChangeActionAndLastOneToFourSeconds() throws {
        for seed in UInt64(0)..<8 {
            let c = try Self.small("hard", seconds: 12)
            let script = try SceneScript(config: c, seed: seed)
            #expect(c.objects.contains(script.objects.count))
            for o in script.objects {
                #expect(o.segments.first?.first == 0)
                #expect(o.segments.last?.last == script.frames - 1)
                for (i, s) in o.segments.enumerated() {
                    #expect(s.first <= s.last)
                    if i > 0 {
                        #expect(s.first == o.segments[i - 1].last + 1)
                        #expect(s.action != o.segments[i - 1].action)
                    }
                    let length = s.last - s.first + 1
                    #expect(length <= 4 * c.fps + 1)
                    if i < o.segments.count - 1 { #expect(length >= c.fps - 1) }
                }
            }
        }
    }

    @Test func actionsMoveObjectsAsSpecified() throws {
        let c = try Self.small("standard", seconds: 20)
        let script = try SceneScript(config: c, seed: 5)
        var sawRun = false, sawSpin = false
        for (index, o) in script.objects.enumerated() {
            for s in o.segments where s.last - s.first >= 10 {
                let a = script.pose(frame: s.first + 2, object: index), b = script.pose(frame: s.first + 10, object: index)
                let inView = [a, b].allSatisfy { $0.x > 0 && $0.x < Double(c.width) && $0.y > 0 && $0.y < Double(c.height) }
                guard inView else { continue }
                let moved = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
                switch s.action {
                case .idle: #expect(moved < 3, "idle object \(o.id) moved \(moved) px")
                case .spin:
                    #expect(moved < 0.01)
                    #expect(a.angle != b.angle)
                    sawSpin = true
                case .run:
                    // 8 frames at 100–200 px/s is 32–64 px, less when it bounced.
                    #expect(moved > 5, "running object \(o.id) moved only \(moved) px")
                    sawRun = true
                case .walk, .jump: break
                }
            }
        }
        #expect(sawRun || sawSpin)
    }

    @Test func handMadeScriptsAreChecked() throws {
        var c = try Self.small(seconds: 0.08)  // 2 frames
        c.objects = 1...1
        let o = SceneObject(id: 1, shapeClass: .circle, color: [200, 0, 0], size: 20, depth: 0,
                            segments: [.init(first: 0, last: 1, action: .idle)])
        let pose = ObjectPose(x: 10, y: 10, angle: 0)
        #expect(throws: SynthError.self) { try SceneScript(config: c, seed: 1, objects: [o], poses: [pose]) }
        #expect(throws: SynthError.self) { try SceneScript(config: c, seed: 1, objects: [o, o], poses: Array(repeating: pose, count: 4)) }
        _ = try SceneScript(config: c, seed: 1, objects: [o], poses: [pose, pose])
    }
}
