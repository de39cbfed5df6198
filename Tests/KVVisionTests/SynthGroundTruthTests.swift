import Foundation
import Testing
@testable import KVVision

/// ShapesWorld ground-truth files: gt.txt, labels.json and frames.npy.
@Suite struct SynthGroundTruthTests {
    static func export(_ config: ScenarioConfig, seed: UInt64, npy: (Int, Int)? = (32, 24)) throws -> URL {
        let dir = try TestFiles.scratchDirectory()
        _ = try ClipExporter.export(config: config, seed: seed, to: dir.path, modelSize: npy.map { (width: $0.0, height: $0.1) })
        return dir
    }

    static func bytes(_ dir: URL, _ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    @Test func sameSeedWritesByteIdenticalFilesAndDifferentSeedsDiffer() throws {
        let c = try SynthSceneTests.small("standard", seconds: 1)
        let a = try Self.export(c, seed: 77), b = try Self.export(c, seed: 77), d = try Self.export(c, seed: 78)
        for name in ["gt.txt", "labels.json", "frames.npy"] {
            #expect(try Self.bytes(a, name) == Self.bytes(b, name), "\(name) differs for the same seed")
            #expect(try Self.bytes(a, name) != Self.bytes(d, name), "\(name) is the same for different seeds")
        }
    }

    static func decode(_ url: URL) throws -> [[UInt8]] {
        let source = try FrameSource(url.path)
        var frames: [[UInt8]] = []
        while let frame = try source.next() { frames.append(frame.pixels) }
        return frames
    }

    /// `kvvision synth` runs (one encoder per process, as users run it) with the same seed give
    /// the same video.mp4 and decoded frames. (Several VideoWriters encoding concurrently in one
    /// process have been seen to produce different x264 streams, so this goes through the CLI.)
    @Test func sameSeedGivesIdenticalDecodedVideo() throws {
        func run(_ seed: Int) throws -> URL {
            let dir = try TestFiles.scratchDirectory()
            let r = try CLIRunner.run(["synth", "--seed", "\(seed)", "--out", dir.path, "--size", "160x120", "--duration", "0.6"])
            #expect(r.code == 0, "\(r.stderr)")
            return dir
        }
        let a = try run(31), b = try run(31), d = try run(32)
        let fa = try Self.decode(a.appendingPathComponent("video.mp4")), fb = try Self.decode(b.appendingPathComponent("video.mp4"))
        let fd = try Self.decode(d.appendingPathComponent("video.mp4"))
        #expect(fa.count == 15 && fb.count == 15)
        let sameFile = try Self.bytes(a, "video.mp4") == Self.bytes(b, "video.mp4")
        let sameFrames = fa == fb, otherFrames = fa != fd
        #expect(sameFile, "video.mp4 differs for the same seed")
        #expect(sameFrames, "decoded frames differ for the same seed")
        #expect(otherFrames, "decoded frames are the same for different seeds")
    }

    @Test func decodedVideoIsTheRenderedClipUpToCompression() throws {
        let c = try SynthSceneTests.small("standard", seconds: 0.6)
        let a = try Self.export(c, seed: 31, npy: (160, 120))
        let fa = try Self.decode(a.appendingPathComponent("video.mp4"))
        #expect(fa.count == c.frames)
        // frames.npy at the source size holds the rendered frames exactly.
        let npy = try Self.bytes(a, "frames.npy")
        let frameBytes = 160 * 120 * 3, start = npy.count - c.frames * frameBytes
        for (t, decoded) in fa.enumerated() {
            let rendered = npy[(start + t * frameBytes)..<(start + (t + 1) * frameBytes)]
            let mae = Double(zip(decoded, rendered).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(frameBytes)
            #expect(mae < 8, "frame \(t): mean absolute error \(mae) against the rendered frame")
        }
    }

    @Test func gtLinesFollowTheMOTChallengeFormat() throws {
        let c = try SynthSceneTests.small("hard", seconds: 2)
        let dir = try Self.export(c, seed: 5, npy: nil)
        let text = String(decoding: try Self.bytes(dir, "gt.txt"), as: UTF8.self)
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n")
        let labels = try JSONDecoder().decode(SynthLabels.self, from: try Self.bytes(dir, "labels.json"))
        #expect(lines.count == labels.frames * labels.objects.count)
        var previous = (0, 0)
        for line in lines {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(f.count == 9, "bad line \(line)")
            guard f.count == 9, let frame = Int(f[0]), let id = Int(f[1]), let cls = Int(f[7]), let vis = Double(f[8]) else {
                Issue.record("unparsable line \(line)"); continue
            }
            #expect(frame > previous.0 || (frame == previous.0 && id > previous.1), "not sorted at \(line)")
            previous = (frame, id)
            #expect((1...labels.frames).contains(frame))
            for k in 2...5 { #expect(f[k].split(separator: ".").last?.count == 2, "two decimals: \(line)") }
            #expect(Double(f[4])! >= 1 && Double(f[5])! >= 1)
            #expect(f[6] == "1")
            #expect(f[8].split(separator: ".").last?.count == 3)
            #expect((0...1).contains(vis))
            let object = try #require(labels.objects.first { $0.id == id })
            #expect(labels.classes[cls - 1] == object.class)
            if vis > 0 {
                let (x, y, w, h) = (Double(f[2])!, Double(f[3])!, Double(f[4])!, Double(f[5])!)
                #expect(x >= 0 && y >= 0 && x + w <= Double(c.width) && y + h <= Double(c.height), "visible box outside the image: \(line)")
            }
        }
    }

    @Test func labelsDescribeTheClipAndItsActionSegments() throws {
        let c = try SynthSceneTests.small("standard", seconds: 3)
        let dir = try Self.export(c, seed: 9, npy: nil)
        let labels = try JSONDecoder().decode(SynthLabels.self, from: try Self.bytes(dir, "labels.json"))
        #expect(labels.format == "kvvision.shapesworld.labels" && labels.version == ShapesWorldLabelsFormat.version)
        #expect(labels.classes == ["circle", "square", "triangle", "cross"])
        #expect(labels.actions == ["idle", "walk", "run", "jump", "spin"])
        #expect(labels.width == 160 && labels.height == 120 && labels.fps == 25 && labels.frames == 75 && labels.seed == 9)
        #expect(labels.scenario == c)
        for o in labels.objects {
            #expect(o.actions.first?.from == 1 && o.actions.last?.to == labels.frames)
            for (a, b) in zip(o.actions, o.actions.dropFirst()) { #expect(b.from == a.to + 1) }
            #expect(o.actions.allSatisfy { labels.actions.contains($0.action) })
            #expect(o.color.count == 3)
        }
        let json = String(decoding: try Self.bytes(dir, "labels.json"), as: UTF8.self)
        #expect(json.contains("\"format\" : \"kvvision.shapesworld.labels\""))
    }

    @Test func objectsLeaveAndReturnWithTheSameIdentity() throws {
        var found = false
        for seed in UInt64(1)...30 where !found {
            let c = try ScenarioConfig.preset("hard")
            let r = try ShapesWorldRenderer(config: c, seed: seed)
            var history: [Int: [ObjectTruth]] = [:]
            for t in 0..<r.script.frames {
                for o in try r.truth(frame: t).objects { history[o.id, default: []].append(o) }
            }
            for (id, rows) in history {
                #expect(rows.count == r.script.frames, "object \(id) missing from some frames")
                #expect(Set(rows.map(\.shapeClass)).count == 1)
                // visible → fully outside the image → visible again.
                guard let out = rows.firstIndex(where: { $0.visiblePixels == 0 && ($0.x + $0.w <= 0 || $0.y + $0.h <= 0 || $0.x >= c.width || $0.y >= c.height) }),
                      rows[..<out].contains(where: { $0.visiblePixels > 0 }),
                      rows[out...].contains(where: { $0.visiblePixels > 0 }) else { continue }
                found = true
            }
        }
        #expect(found, "no seed in 1...30 of the hard preset has an exit and re-entry")
    }

    @Test func framesNPYHasAValidHeaderAndAllFrames() throws {
        let c = try SynthSceneTests.small("easy", seconds: 0.4)
        let dir = try Self.export(c, seed: 2, npy: (40, 30))
        let data = try Self.bytes(dir, "frames.npy")
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '|u1'") && header.contains("'shape': (10, 30, 40, 3)") && header.hasSuffix("\n"))
        #expect(data.count == 10 + headerLength + 10 * 30 * 40 * 3)
    }

    @Test func areaResamplingAveragesAndKeepsIdentity() {
        var halve = AreaResampler(sourceWidth: 4, sourceHeight: 2, width: 2, height: 1)
        let src: [UInt8] = [0, 0, 0, 100, 100, 100, 10, 20, 30, 10, 20, 30,
                            0, 0, 0, 100, 100, 100, 10, 20, 30, 50, 60, 70]
        var out: [UInt8] = []
        halve.resample(src, into: &out)
        #expect(out == [50, 50, 50, 20, 30, 40])
        var same = AreaResampler(sourceWidth: 4, sourceHeight: 2, width: 4, height: 2)
        same.resample(src, into: &out)
        #expect(out == src)
    }

    @Test func visibilityColumnRoundsButNeverHidesOrCompletesAPartialObject() {
        func o(_ v: Int, _ t: Int) -> ObjectTruth {
            ObjectTruth(id: 1, shapeClass: .circle, action: .idle, x: 0, y: 0, w: 1, h: 1, visiblePixels: v, totalPixels: t)
        }
        #expect(GroundTruthText.visibility(o(0, 300)) == "0.000")
        #expect(GroundTruthText.visibility(o(1, 3000)) == "0.001")
        #expect(GroundTruthText.visibility(o(2999, 3000)) == "0.999")
        #expect(GroundTruthText.visibility(o(300, 300)) == "1.000")
        #expect(GroundTruthText.visibility(o(1, 3)) == "0.333")
        #expect(GroundTruthText.visibility(o(2, 3)) == "0.667")
        #expect(GroundTruthText.visibility(o(1, 8)) == "0.125")
    }

    @Test func stagedFilesAppearOnlyWhenCommitted() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = dir.appendingPathComponent("gt.txt").path
        do {
            let abandoned = try StagedFile(path: path)
            try abandoned.append("1,1,0.00,0.00,1.00,1.00,1,1,1.000\n")
            #expect(FileManager.default.fileExists(atPath: path + ".partial"))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        let file = try StagedFile(path: path)
        try file.append("abc")
        try file.append([0x0A])
        try file.commit()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "abc\n")
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        // A frames.npy whose frame count falls short of its header is refused and never appears.
        let npyPath = dir.appendingPathComponent("frames.npy").path
        do {
            let npy = try NPYFrameWriter(path: npyPath, frames: 2, width: 2, height: 2)
            try npy.append([UInt8](repeating: 7, count: 12))
            #expect(throws: SynthError.self) { try npy.append([1, 2, 3]) }
            #expect(throws: SynthError.self) { try npy.finish() }
        }
        #expect(!FileManager.default.fileExists(atPath: npyPath))
    }

    @Test func exportToAnUnusablePathFailsWithTheFileNamed() throws {
        let dir = try TestFiles.scratchDirectory()
        let file = dir.appendingPathComponent("plain.txt")
        try Data("x".utf8).write(to: file)
        let c = try SynthSceneTests.small("easy", seconds: 0.08)
        #expect(throws: SynthError.self) { try ClipExporter.export(config: c, seed: 1, to: file.path) }
        do {
            _ = try ClipExporter.export(config: c, seed: 1, to: file.path + "/sub")
            Issue.record("export under a regular file succeeded")
        } catch let e as SynthError {
            #expect(e.description.contains("plain.txt/sub"))
        }
    }
}
