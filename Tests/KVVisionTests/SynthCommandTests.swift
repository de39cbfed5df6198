import Foundation
import Testing

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
