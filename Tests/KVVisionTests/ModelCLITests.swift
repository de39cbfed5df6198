import Foundation
import Testing
@testable import KVVision

/// `kvvision inspect`, `encode` and `bench encoder` as a user runs them.
@Suite struct ModelCLITests {
    static var tiny: String { TestFiles.fixture("vit/tiny.safetensors").path }

    @Test func inspectPrintsConfigParamsFlopsAndTensorTable() throws {
        let r = try CLIRunner.run(["inspect", Self.tiny])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains("dim 64, depth 2, heads 4"))
        #expect(r.stdout.contains("blocks.1.mlp.fc2.weight"))
        #expect(r.stdout.contains("GFLOP per frame"))
    }

    @Test func inspectJSONHasParametersAndFlops() throws {
        let r = try CLIRunner.run(["inspect", "--json", Self.tiny])
        #expect(r.code == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let (vit, _) = try VisionTransformer.load(path: Self.tiny)
        #expect(obj["parameters"] as? Int == vit.parameterCount)
        #expect(obj["flops_per_frame"] as? Int == vit.flopsPerFrame(height: 32, width: 48))
        #expect((obj["tensors"] as? [Any])?.count == 4 + 2 * 12 + 2)
        #expect(obj["config_source"] as? String == "metadata")
    }

    @Test func encodeWritesTokensMatchingTimm() throws {
        let dir = try TestFiles.scratchDirectory()
        let out = dir.appendingPathComponent("tokens.npy").path
        let r = try CLIRunner.run(["encode", "--model", Self.tiny, "--input-tensor", TestFiles.fixture("vit/input.npy").path,
                                   "--out", out, "--threads", "2"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let got = try NpyFile.read(path: out)
        let want = try NpyFile.read(path: TestFiles.fixture("vit/expected.npy").path)
        #expect(got.shape == [2, 25, 64])
        let worst = zip(got.storage, want.storage).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-4)
    }

    @Test func malformedModelIsOneLineErrorExit1() throws {
        let dir = try TestFiles.scratchDirectory()
        let bad = dir.appendingPathComponent("bad.safetensors")
        try Data([9, 0, 0, 0, 0, 0, 0, 0, 0x7B]).write(to: bad)
        let r = try CLIRunner.run(["inspect", bad.path])
        #expect(r.code == 1)
        #expect(r.stderr.hasPrefix("kvvision: error: "))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func encodeRejectsNonFloat32InputWithClearError() throws {
        let dir = try TestFiles.scratchDirectory()
        let x = dir.appendingPathComponent("x.npy")
        var h = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n".utf8)
        h = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.count), 0] + h + [UInt8](repeating: 0, count: 8)
        try Data(h).write(to: x)
        let r = try CLIRunner.run(["encode", "--model", Self.tiny, "--input-tensor", x.path, "--out", dir.appendingPathComponent("y.npy").path])
        #expect(r.code == 1)
        #expect(r.stderr.contains("<f8"))
    }

    @Test func encodeWithoutModelIsUsageError() throws {
        let r = try CLIRunner.run(["encode", "--input-tensor", "x.npy", "--out", "y.npy"])
        #expect(r.code == 64)
        #expect(r.stderr.contains("--model"))
    }

    @Test func benchEncoderJSONReportsFpsAndSgemmRatio() throws {
        let r = try CLIRunner.run(["bench", "encoder", "--model", Self.tiny, "--threads", "1", "--frames", "2", "--runs", "1", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["fps", "gflops", "sgemm_gflops", "ratio"] {
            let v = try #require(obj[key] as? Double, "\(key)")
            #expect(v > 0)
        }
        #expect(obj["blas_core"] is String)
    }

    @Test func benchEncoderRejectsUnknownShape() throws {
        let r = try CLIRunner.run(["bench", "encoder", "--shape", "vit-huge-9000"])
        #expect(r.code == 64)
    }
}
