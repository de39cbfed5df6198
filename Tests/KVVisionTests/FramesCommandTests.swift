import Foundation
import Testing
import KVVision

/// `kvvision frames`: the .npy holds exactly the pixels the pipeline's FrameSource delivers.
@Suite struct FramesCommandTests {
    /// The data section of a uint8 .npy and its header text.
    static func npy(_ path: String) throws -> (header: String, data: [UInt8]) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.starts(with: [0x93] + Array("NUMPY".utf8)))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        return (header, Array(bytes[(10 + headerLength)...]))
    }

    @Test func framesEqualFrameSourcePixelsAtModelSize() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try MediaPattern.writeClip(dir.appendingPathComponent("clip.mp4").path, count: 7)
        let out = dir.appendingPathComponent("frames.npy").path
        let r = try CLIRunner.run(["frames", clip, "--out", out, "--size", "64x48"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let (header, data) = try Self.npy(out)
        #expect(header.contains("'descr': '|u1'"))
        #expect(header.contains("'shape': (7, 48, 64, 3)"))
        let source = try FrameSource(clip, options: FrameSourceOptions(width: 64, height: 48))
        var expected: [UInt8] = []
        while let frame = try source.next() { expected += frame.pixels }
        #expect(data.count == 7 * 48 * 64 * 3)
        #expect(data == expected)
    }

    @Test func maxFramesAndSourceSize() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try MediaPattern.writeClip(dir.appendingPathComponent("clip.mp4").path, count: 6)
        let out = dir.appendingPathComponent("f.npy").path
        let r = try CLIRunner.run(["frames", clip, "--out", out, "--max-frames", "2"])
        #expect(r.code == 0, "\(r.stderr)")
        let (header, data) = try Self.npy(out)
        #expect(header.contains("'shape': (2, 96, 128, 3)"))
        #expect(data.count == 2 * 96 * 128 * 3)
    }

    @Test func missingInputAndOutAreUsageErrors() throws {
        #expect(try CLIRunner.run(["frames", "--out", "/tmp/x.npy"]).code == 64)
        #expect(try CLIRunner.run(["frames", "clip.mp4"]).code == 64)
        let help = try CLIRunner.run(["frames", "--help"])
        #expect(help.code == 0 && help.stdout.contains("Usage: kvvision frames"))
    }

    @Test func missingFileIsOneLineErrorAndNoOutput() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("f.npy").path
        let r = try CLIRunner.run(["frames", "/no/such/clip.mp4", "--out", out])
        #expect(r.code == 1)
        #expect(r.stderr.contains("/no/such/clip.mp4"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
