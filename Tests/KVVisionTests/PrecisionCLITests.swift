import Foundation
import Testing
@testable import KVVision

/// `--precision` on `encode` and `bench encoder`, and the `KVVISION_ISA` cap, as a user runs them.
@Suite struct PrecisionCLITests {
    static var tiny: String { TestFiles.fixture("vit/tiny.safetensors").path }

    @Test(arguments: [("int8", ""), ("int8", "reference"), ("bf16", "")])
    func encodeAtReducedPrecisionStaysNearTimm(precision: String, isa: String) throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("tokens.npy").path
        let r = try CLIRunner.run(["encode", "--model", Self.tiny, "--input-tensor", TestFiles.fixture("vit/input.npy").path,
                                   "--out", out, "--threads", "2", "--precision", precision],
                                  environment: isa.isEmpty ? [:] : ["KVVISION_ISA": isa])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stderr.contains("(\(precision))"))
        let got = try NpyFile.read(path: out)
        let want = try NpyFile.read(path: TestFiles.fixture("vit/expected.npy").path)
        #expect(got.shape == want.shape)
        let e = ReducedPrecisionEncoderTests.relativeRMS(got, want)
        print("encode --precision \(precision) \(isa): token relative RMS vs timm \(e)")
        #expect(e <= (precision == "bf16" ? 0.01 : 0.03))
    }

    @Test func benchEncoderAtInt8ReportsItsKernelsAndTheSpeedUpOverF32() throws {
        let r = try CLIRunner.run(["bench", "encoder", "--model", Self.tiny, "--precision", "int8", "--threads", "1", "--frames", "2",
                                   "--runs", "1", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["precision"] as? String == "int8")
        #expect(obj["isa"] as? String == (try KernelISA.selected().int8.rawValue))
        for key in ["fps", "f32_fps", "speedup_vs_f32"] { #expect((obj[key] as? Double ?? 0) > 0, "\(key)") }
        let bytes = try #require(obj["linear_weight_bytes"] as? Int)
        #expect(bytes > 0 && bytes < 4 * 2 * (192 * 64 + 64 * 64 + 256 * 64 + 64 * 256) / 3)
    }

    @Test func badPrecisionIsUsageErrorAndBadISACapIsOneLineError() throws {
        let r = try CLIRunner.run(["bench", "encoder", "--model", Self.tiny, "--precision", "int4"])
        #expect(r.code == 64 && r.stderr.contains("--precision"))
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = try CLIRunner.run(["encode", "--model", Self.tiny, "--input-tensor", TestFiles.fixture("vit/input.npy").path,
                                   "--out", dir.appendingPathComponent("y.npy").path, "--precision", "int8"],
                                  environment: ["KVVISION_ISA": "sse9"])
        #expect(e.code == 1)
        #expect(e.stderr.contains("KVVISION_ISA=sse9") && e.stderr.split(separator: "\n").count == 1, "\(e.stderr)")
    }
}
