import Foundation
import Testing
@testable import KVVision

/// `kvvision track` from the command line.
@Suite struct TrackCLITests {
    static let easy = TrackingGroundTruthTests.sampleDirectory("easy")

    static func gtDetections(_ dir: URL) throws -> String {
        let gt = try GroundTruth.read(easy.appendingPathComponent("gt.txt"))
        let labels = try EvalLabels.read(easy.appendingPathComponent("labels.json"))
        let path = dir.appendingPathComponent("det.txt").path
        try GroundTruthDetections.detText(gt, classes: labels.classes).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func outputOfEveryFormatIsValidAndScores() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let det = try Self.gtDetections(dir)
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let validator = try SchemaValidator(schemaURL: OutputTests.schemaURL)
        for format in ["jsonl", "events"] {
            let r = try CLIRunner.run(["track", video, "--detections", det, "--model", "none", "--format", format, "--progress", "never"])
            #expect(r.code == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count > 5)
            for line in lines { #expect(validator.errors(line: String(line)) == [], "\(format): \(line.prefix(120))") }
        }
        let jsonl = dir.appendingPathComponent("t.jsonl").path
        let r = try CLIRunner.run(["track", video, "--detections", det, "--model", "none", "--out", jsonl])
        #expect(r.code == 0 && r.stdout.isEmpty)
        let eval = try CLIRunner.run(["eval", "--gt", Self.easy.path, "--pred", jsonl, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
        let tracking = report?["tracking"] as? [String: Any]
        #expect((tracking?["idf1"] as? Double ?? 0) >= 0.95 && (tracking?["mota"] as? Double ?? 0) >= 0.95, "\(eval.stdout.prefix(400))")
        let mot = try CLIRunner.run(["track", video, "--detections", det, "--model", "none", "--format", "mot", "--max-frames", "3"])
        let motLines = mot.stdout.split(separator: "\n")
        #expect(motLines.first?.hasPrefix("1,1,") == true && motLines.allSatisfy { $0.hasSuffix(",-1,-1,-1") && $0.split(separator: ",").count == 10 })
    }

    @Test func jsonLinesAreByteIdenticalAcrossThreadCountsWithAViT() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let det = try Self.gtDetections(dir)
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let model = TestFiles.fixture("vit/tiny.safetensors").path
        let outputs = try [1, 2].map { n in
            try CLIRunner.run(["track", video, "--detections", det, "--model", model, "--threads", "\(n)", "--max-frames", "120"], timeout: 120)
        }
        #expect(outputs[0].code == 0, "\(outputs[0].stderr)")
        #expect(outputs[0].stdout == outputs[1].stdout && outputs[0].stdout.contains(#""model":"tiny-test-vit","model_hash":""#))
    }

    @Test func failuresAreOneLineNamingFileAndLine() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.txt").path
        try "1,-1,1,2,3,4,0.9\n2,-1,1,2,3\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let r = try CLIRunner.run(["track", video, "--detections", bad, "--model", "none"])
        #expect(r.code == 1 && r.stderr == "kvvision: error: \(bad):2: expected at least 7 comma-separated fields (frame,-1,x,y,w,h,score[,class]), found 5\n")
        let missing = dir.appendingPathComponent("absent.safetensors").path
        let noModel = try CLIRunner.run(["track", video, "--detections", bad], environment: ["KVVISION_MODEL": missing])
        #expect(noModel.code == 1 && noModel.stderr.contains("default model is not installed") && noModel.stderr.contains(missing)
                && noModel.stderr.split(separator: "\n").count == 1, "\(noModel.stderr)")
        let noDet = try CLIRunner.run(["track", video, "--model", "none"])
        #expect(noDet.code == 1 && noDet.stderr.contains("--detections"))
        let usage = try CLIRunner.run(["track", video, "--format", "xml"])
        #expect(usage.code == 64)
    }

    @Test func aTrackingModelDetectsAssociatesAndNamesActionsWithTheWindowAsAsked() throws {
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let model = TestFiles.fixture("model/golden-model.safetensors").path
        let validator = try SchemaValidator(schemaURL: OutputTests.schemaURL)
        let r = try CLIRunner.run(["track", video, "--model", model, "--max-frames", "12", "--window", "2", "--kv-policy", "sinks:1",
                                   "--kv-storage", "int8", "--progress", "never"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 14)
        for line in lines { #expect(validator.errors(line: String(line)) == [], "\(line.prefix(160))") }
        #expect(lines.first?.contains(#""window":2,"kv_policy":"sinks:1","kv_storage":"int8","detections":"model""#) == true, "\(lines.first ?? "")")
        #expect(r.stdout.contains(#""action":{"label":"#))
        let usage = try CLIRunner.run(["track", video, "--model", model, "--kv-policy", "lru"])
        #expect(usage.code == 64 && usage.stderr.contains("--kv-policy"))
        let bad = try CLIRunner.run(["track", video, "--model", model, "--window", "2", "--kv-policy", "sinks:2", "--max-frames", "1"])
        #expect(bad.code == 1 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
    }

    /// `bench track --json` reports frames/s, each stage's ms per frame, the encoder's share of the
    /// stages' time (the encode stage over their sum) and the run paired with the encoder alone
    /// (its frames/s and the ratio track / encoder alone); with no model, no pairing.
    @Test func benchTrackReportsStagesAndTheEncodersShare() throws {
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let model = TestFiles.fixture("model/golden-model.safetensors").path
        let r = try CLIRunner.run(["bench", "track", video, "--model", model, "--max-frames", "8", "--runs", "1", "--json"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["frames"] as? Double == 8)
        var total = 0.0
        for stage in ["decode", "encode", "heads", "temporal", "tracking", "output"] {
            let ms = try #require(obj["ms_\(stage)"] as? Double, "ms_\(stage)")
            #expect(ms >= 0)
            total += ms
        }
        let share = try #require(obj["encode_share"] as? Double)
        let encode = try #require(obj["ms_encode"] as? Double)
        #expect(share > 0 && share < 1 && abs(share - encode / total) < 1e-9, "share \(share), encode \(encode), total \(total)")
        let fps = try #require(obj["frames_per_second"] as? Double), alone = try #require(obj["encoder_alone_fps"] as? Double)
        let ratio = try #require(obj["track_over_encoder"] as? Double)
        #expect(fps > 0 && alone > 0 && abs(ratio - fps / alone) < 1e-9 * max(1, ratio), "\(fps) / \(alone) vs \(ratio)")
        // Without a model (external detections only) there is no encoder to pair with.
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let det = dir.appendingPathComponent("det.txt").path
        try "1,-1,10,10,20,20,0.9\n2,-1,11,10,20,20,0.9\n".write(toFile: det, atomically: true, encoding: .utf8)
        let none = try CLIRunner.run(["bench", "track", video, "--model", "none", "--detections", det, "--max-frames", "3", "--runs", "1", "--json"],
                                     timeout: 120)
        #expect(none.code == 0, "\(none.stderr)")
        let noneObj = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
        #expect(noneObj["track_over_encoder"] as? Double == 0 && noneObj["encoder_alone_fps"] as? Double == 0)
    }

    @Test func detectWritesTheModelsDetectionsAsMOTTextThatTrackReadsBack() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = Self.easy.appendingPathComponent("video.mp4").path
        let model = TestFiles.fixture("model/golden-model.safetensors").path
        let det = dir.appendingPathComponent("det.txt").path
        let r = try CLIRunner.run(["detect", video, "--model", model, "--max-frames", "6", "--out", det, "--progress", "never"], timeout: 120)
        #expect(r.code == 0 && r.stdout.isEmpty, "\(r.stderr)")
        let lines = try String(contentsOfFile: det, encoding: .utf8).split(separator: "\n")
        // The same frames through the PyTorch reference (the parity fixture): that many detections
        // per frame, scores ≥ the model's min_score 0.05.
        let clip = try SafetensorsFile(path: TestFiles.fixture("model/golden-clip.safetensors").path)
        for t in 0..<6 {
            let expected = try clip.tensor("detections.\(t)").shape[0]
            let got = lines.filter { $0.split(separator: ",")[0] == "\(t + 1)" }.count
            #expect(got == expected, "frame \(t + 1): \(got) detections, the reference has \(expected)")
        }
        for line in lines {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            #expect(f.count == 8 && f[1] == "-1" && ["circle", "square", "triangle", "cross"].contains(String(f[7])), "\(line)")
            #expect(Double(f[6]).map { (0.05...1).contains($0) } == true, "\(line)")
        }
        let strict = try CLIRunner.run(["detect", video, "--model", model, "--max-frames", "6", "--min-score", "0.5"], timeout: 120)
        #expect(strict.code == 0 && strict.stdout.split(separator: "\n").allSatisfy { Double($0.split(separator: ",")[6])! >= 0.5 })
        let tracked = try CLIRunner.run(["track", video, "--detections", det, "--model", "none", "--max-frames", "6"])
        #expect(tracked.code == 0 && tracked.stdout.split(separator: "\n").count == 8, "\(tracked.stderr)")
        let encoderOnly = try CLIRunner.run(["detect", video, "--model", TestFiles.fixture("vit/tiny.safetensors").path])
        #expect(encoderOnly.code == 1 && encoderOnly.stderr.contains("no detection head"), "\(encoderOnly.stderr)")
    }

    @Test func damagedInputReportsEveryDecodableFrameThenTheError() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let det = try Self.gtDetections(dir)
        let data = try Data(contentsOf: Self.easy.appendingPathComponent("video.mp4"))
        let half = dir.appendingPathComponent("half.mp4").path
        _ = FileManager.default.createFile(atPath: half, contents: data.prefix(data.count / 2))
        let r = try CLIRunner.run(["track", half, "--detections", det, "--model", "none"])
        let records = r.stdout.split(separator: "\n").compactMap { try? OutputRecord.decode(line: $0) }
        guard case let .end(end)? = records.last else { Issue.record("no end record: \(r.stdout.suffix(300)) \(r.stderr)"); return }
        let frames = records.filter { if case .frame = $0 { true } else { false } }.count
        #expect(r.code == 1 && end.reason == "error" && end.error != nil && frames == end.framesAnalysed && frames > 10 && frames < 250)
        #expect(r.stderr.contains("truncated") || r.stderr.contains("damaged"), "\(r.stderr)")
        // With a model on two lanes (two frames in flight when the decoder fails): the same
        // frames as one lane, then the same end.
        let model = TestFiles.fixture("model/golden-model.safetensors").path
        let one = try CLIRunner.run(["track", half, "--model", model, "--threads", "1"])
        let two = try CLIRunner.run(["track", half, "--model", model, "--threads", "2"])
        #expect(one.code == 1 && two.code == 1)
        #expect(one.stdout.split(separator: "\n").count == frames + 2 && two.stdout == one.stdout)
    }
}
