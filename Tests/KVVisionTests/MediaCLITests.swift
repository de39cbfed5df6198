import Foundation
import Testing
import KVVision

/// `kvvision probe` and `kvvision bench decode` as a user runs them: JSON out, one-line errors, exit codes.
@Suite struct MediaCLITests {
    static func clip(_ count: Int, _ label: String = #function) throws -> String {
        try MediaPattern.writeClip(try TestFiles.scratchDirectory(label).appendingPathComponent("clip.mp4").path, count: count)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Checks a runtime failure: exit 1, nothing on stdout, exactly one stderr line containing `fragment`.
    static func expectOneLineFailure(_ r: CLIResult, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.code == 1, sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("kvvision: error: "), sourceLocation: sourceLocation)
        #expect(r.stderr.contains(fragment), "\(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func probePrintsContainerAndVideoStreamAsJSON() throws {
        let path = try Self.clip(12)
        let r = try CLIRunner.run(["probe", path])
        #expect(r.code == 0)
        #expect(r.stderr.isEmpty)
        let object = try Self.json(r.stdout)
        #expect((object["container"] as? String)?.contains("mp4") == true)
        #expect(object["live"] as? Bool == false)
        let video = try #require(object["video"] as? [String: Any])
        #expect(video["codec"] as? String == "h264")
        #expect(video["width"] as? Int == 128 && video["height"] as? Int == 96)
        #expect(video["frame_count"] as? Int == 12)
        #expect(video["fps"] as? Double == 25)
        #expect((object["streams"] as? [Any])?.count == 1)
    }

    @Test func probeOfAudioOnlyFileListsItsStreamWithoutVideo() throws {
        let r = try CLIRunner.run(["probe", "--compact", TestFiles.fixture("media/audio-only.m4a").path])
        #expect(r.code == 0)
        let object = try Self.json(r.stdout)
        #expect(object["video"] == nil)
        let streams = try #require(object["streams"] as? [[String: Any]])
        #expect(streams.first?["type"] as? String == "audio")
    }

    @Test func probeMissingFileIsOneLineErrorExit1() throws {
        Self.expectOneLineFailure(try CLIRunner.run(["probe", "/no/such/clip.mp4"]), "/no/such/clip.mp4: no such file")
    }

    @Test func probeWithoutInputIsUsageError() throws {
        let r = try CLIRunner.run(["probe"])
        #expect(r.code == 64)
        #expect(r.stderr.contains("missing INPUT"))
    }

    @Test func benchDecodeReportsFramesAndFpsAsJSON() throws {
        let path = try Self.clip(20)
        let r = try CLIRunner.run(["bench", "decode", path, "--size", "64x64", "--every", "2", "--threads", "2", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        #expect(object["frames"] as? Int == 10)
        #expect(object["frames_decoded"] as? Int == 20)
        #expect((object["fps"] as? Double ?? 0) > 0)
        #expect(object["threads"] as? Int == 2)
        #expect((object["peak_rss_bytes"] as? Int ?? 0) > 0)
    }

    @Test func benchDecodeStartAndMaxFramesLimitTheFramesKept() throws {
        let path = try Self.clip(50)
        let r = try CLIRunner.run(["bench", "decode", path, "--start", "1", "--max-frames", "7", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(try Self.json(r.stdout)["frames"] as? Int == 7)
        let rest = try CLIRunner.run(["bench", "decode", path, "--start=1.2", "--json"])
        #expect(try Self.json(rest.stdout)["frames"] as? Int == 20)
    }

    @Test func benchDecodeHumanOutputNamesTheFigures() throws {
        let r = try CLIRunner.run(["bench", "decode", try Self.clip(5)])
        #expect(r.code == 0)
        #expect(r.stdout.contains("frames/s") && r.stdout.contains("peak RSS") && r.stdout.contains("5 kept of 5 decoded"))
    }

    @Test func decodingTheSameFile50TimesLeavesRSSFlat() throws {
        // Runs in its own process so other tests' allocations do not move the figure.
        let path = try Self.clip(25)
        let r = try CLIRunner.run(["bench", "decode", path, "--size", "96x96", "--runs", "50", "--json"], timeout: 300)
        #expect(r.code == 0, "\(r.stderr)")
        let object = try Self.json(r.stdout)
        let first = try #require(object["rss_after_first_run_bytes"] as? Int)
        let last = try #require(object["rss_after_last_run_bytes"] as? Int)
        #expect(object["runs"] as? Int == 50)
        #expect(last - first < 4 * 1_048_576, "RSS grew from \(first) to \(last) bytes over 49 more decodes")
    }

    @Test func benchDecodeBadInputsAreOneLineErrors() throws {
        Self.expectOneLineFailure(try CLIRunner.run(["bench", "decode", "/no/such/clip.mp4"]), "no such file")
        Self.expectOneLineFailure(try CLIRunner.run(["bench", "decode", TestFiles.fixture("media/audio-only.m4a").path]), "no video stream (streams: 0 audio aac)")
        let dir = try TestFiles.scratchDirectory()
        Self.expectOneLineFailure(try CLIRunner.run(["bench", "decode", dir.path]), "is a directory")
        let empty = dir.appendingPathComponent("empty.mp4").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        Self.expectOneLineFailure(try CLIRunner.run(["bench", "decode", empty]), "file is empty")
        let url = "rtsp://127.0.0.1:\(LocalTCPServer.closedPort())/x"
        Self.expectOneLineFailure(try CLIRunner.run(["probe", "--timeout", "2", url]), url)
    }

    @Test func benchDecodeBadOptionsAreUsageErrors() throws {
        for args in [["--size", "0x10"], ["--every", "0"], ["--scaler", "nearest"], ["--threads", "-1"], ["--bogus"]] {
            let r = try CLIRunner.run(["bench", "decode", "x.mp4"] + args)
            #expect(r.code == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func benchDecodeReadsAPipeFromStdin() throws {
        // An MP4 with its index in front (VideoWriter's +faststart) decodes from a pipe, which cannot seek.
        let path = try Self.clip(15)
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = ["bench", "decode", "pipe:0", "--json"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try Self.json(String(decoding: data, as: UTF8.self))["frames"] as? Int == 15)
    }
}
