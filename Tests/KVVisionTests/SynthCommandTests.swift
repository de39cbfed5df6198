import Foundation
import Testing
import KVVision

/// `kvvision synth` from the command line.
@Suite struct SynthCommandTests {
    @Test func writesGroundTruthAndFramesForASmallClip() throws {
        let dir = try TestFiles.scratchDirectory()
        let r = try CLIRunner.run(["synth", "--seed", "3", "--out", dir.path, "--size", "96x64", "--duration", "0.4",
                                   "--objects", "2-2", "--frames-npy", "32x32", "--preset", "easy"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let gt = try String(contentsOf: dir.appendingPathComponent("gt.txt"), encoding: .utf8)
        #expect(gt.split(separator: "\n").count == 10 * 2)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("labels.json").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("frames.npy").path))
    }

    /// The repository's `samples/` folder.
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples")

    @Test(arguments: ["easy", "standard", "hard"])
    func samplesAreReproducedByteForByteFromTheirLabels(preset: String) throws {
        let dir = try TestFiles.scratchDirectory()
        let sample = Self.samples.appendingPathComponent(preset)
        let r = try CLIRunner.run(["synth", "--scenario", sample.appendingPathComponent("labels.json").path, "--out", dir.path, "--no-video"])
        #expect(r.code == 0, "\(r.stderr)")
        for name in ["gt.txt", "labels.json"] {
            let committed = try Data(contentsOf: sample.appendingPathComponent(name))
            #expect(try Data(contentsOf: dir.appendingPathComponent(name)) == committed,
                    "samples/\(preset)/\(name) is not what the renderer makes now: regenerate it (samples/README.md)")
        }
    }

    @Test func scenarioFileProblemsAreOneLineErrors() throws {
        let dir = try TestFiles.scratchDirectory()
        let missing = dir.appendingPathComponent("nope.json").path
        let r = try CLIRunner.run(["synth", "--scenario", missing, "--out", dir.path, "--seed", "1"])
        #expect(r.code == 1)
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(missing))
        let both = try CLIRunner.run(["synth", "--scenario", missing, "--preset", "easy", "--out", dir.path, "--seed", "1"])
        #expect(both.code == 64)
    }

    /// The shared formats hold end to end: the ground truth, replayed as kvvision JSON Lines
    /// predictions with each object's labelled action, scores perfectly in `kvvision eval`.
    @Test func groundTruthReplayedAsPredictionsScoresPerfectlyInEval() throws {
        let dir = try TestFiles.scratchDirectory()
        let r = try CLIRunner.run(["synth", "--seed", "12", "--preset", "hard", "--duration", "3", "--out", dir.path, "--no-video"])
        #expect(r.code == 0, "\(r.stderr)")
        let labels = try JSONDecoder().decode(SynthLabels.self, from: Data(contentsOf: dir.appendingPathComponent("labels.json")))
        var objects: [Int: [[String: Any]]] = [:]
        for line in try String(contentsOf: dir.appendingPathComponent("gt.txt"), encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: ",").map(String.init)
            let frame = Int(f[0])!, id = Int(f[1])!
            guard Double(f[8])! > 0, let object = labels.objects.first(where: { $0.id == id }),
                  let action = object.actions.first(where: { $0.from <= frame && frame <= $0.to })?.action else { continue }
            objects[frame, default: []].append(["id": id, "class": object.class, "score": 1.0,
                                                "box": f[2...5].map { Double($0)! }, "action": ["label": action, "score": 1.0]])
        }
        var jsonl = #"{"type":"stream","v":1}"# + "\n"
        for frame in 1...labels.frames {
            let record: [String: Any] = ["type": "frame", "v": 1, "frame": frame - 1, "objects": objects[frame] ?? []]
            jsonl += String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self) + "\n"
        }
        let pred = dir.appendingPathComponent("pred.jsonl")
        try Data(jsonl.utf8).write(to: pred)
        let e = try CLIRunner.run(["eval", "--gt", dir.path, "--pred", pred.path, "--json"])
        #expect(e.code == 0, "\(e.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let tracking = try #require(report["tracking"] as? [String: Any])
        let actions = try #require(report["actions"] as? [String: Any])
        #expect(tracking["mota"] as? Double == 1 && tracking["idf1"] as? Double == 1 && tracking["switches"] as? Int == 0)
        #expect(actions["accuracy"] as? Double == 1)
        #expect((tracking["objects"] as? Int ?? 0) > 0)
    }

    @Test func helpDescribesTheOutputs() throws {
        let r = try CLIRunner.run(["synth", "--help"])
        #expect(r.code == 0)
        #expect(r.stdout.contains("gt.txt") && r.stdout.contains("--preset"))
    }

    @Test(arguments: [
        (["--out", "/tmp/x"], "--seed"),
        (["--seed", "1"], "--out"),
        (["--seed", "-4", "--out", "/tmp/x"], "--seed"),
        (["--seed", "1", "--out", "/tmp/x", "--size", "-5x10"], "--size"),
        (["--seed", "1", "--out", "/tmp/x", "--size", "33x33"], "width"),
        (["--seed", "1", "--out", "/tmp/x", "--preset", "extreme"], "extreme"),
        (["--seed", "1", "--out", "/tmp/x", "--objects", "5-2"], "--objects"),
        (["--seed", "1", "--out", "/tmp/x", "--objects", "a-b"], "--objects"),
        (["--seed", "1", "--out", "/tmp/x", "--objects", "1-99"], "--objects"),
        (["--seed", "1", "--out", "/tmp/x", "--fps", "0"], "--fps"),
        (["--seed", "1", "--out", "/tmp/x", "--duration", "-1"], "--duration"),
        (["--seed", "1", "--out", "/tmp/x", "--frames-npy", "0x5"], "--frames-npy"),
        (["--seed", "1", "--out", "/tmp/x", "--bogus"], "--bogus"),
    ])
    func badUsageIsOneLineAndExit64(args: [String], mentions: String) throws {
        let r = try CLIRunner.run(["synth"] + args)
        #expect(r.code == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
    }

    @Test func unwritableOutputIsOneLineErrorNamingThePathWithExit1() throws {
        let dir = try TestFiles.scratchDirectory()
        let file = dir.appendingPathComponent("taken")
        try Data("x".utf8).write(to: file)
        for out in [file.path, file.path + "/clip"] {
            let r = try CLIRunner.run(["synth", "--seed", "1", "--out", out, "--size", "64x64", "--duration", "0.1"])
            #expect(r.code == 1)
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(r.stderr.hasPrefix("kvvision: error: ") && r.stderr.contains(out), "\(r.stderr)")
        }
    }
}
