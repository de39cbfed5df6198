import Foundation
import Testing
@testable import KVVision

/// How source strings are classified: local file, pipe, network; live by scheme.
@Suite struct InputLocationTests {
    @Test func classifiesPathsURLsAndPipes() {
        #expect(InputLocation("clip.mp4").kind == .localFile(path: "clip.mp4"))
        #expect(InputLocation("/data/clip.mp4").kind == .localFile(path: "/data/clip.mp4"))
        #expect(InputLocation("file:/data/clip.mp4").kind == .localFile(path: "/data/clip.mp4"))
        #expect(InputLocation("file:///data/clip.mp4").kind == .localFile(path: "/data/clip.mp4"))
        #expect(InputLocation("pipe:0").kind == .pipe)
        #expect(InputLocation("RTSP://cam/1").kind == .network(scheme: "rtsp"))
        #expect(InputLocation("https://example.com/a.mp4").kind == .network(scheme: "https"))
        #expect(InputLocation("C:clip.mp4").kind == .localFile(path: "C:clip.mp4"))  // one letter is no scheme
    }

    @Test func liveByScheme() {
        #expect(InputLocation("rtsp://cam/1").isLiveScheme && InputLocation("rtsp://cam/1").isRTSP)
        #expect(InputLocation("rtsps://cam/1").isRTSP)
        #expect(InputLocation("udp://239.0.0.1:1234").isLiveScheme)
        #expect(!InputLocation("http://host/a.mp4").isLiveScheme && InputLocation("http://host/a.mp4").isNetwork)
        #expect(!InputLocation("clip.mp4").isNetwork && !InputLocation("pipe:").isNetwork)
    }

    @Test func fileURLOpensTheFile() throws {
        let dir = try TestFiles.scratchDirectory()
        let path = try MediaPattern.writeClip(dir.appendingPathComponent("u.mp4").path, count: 3)
        for source in ["file:" + path, "file://" + path] {
            let s = try FrameSource(source)
            var n = 0
            while try s.next() != nil { n += 1 }
            #expect(n == 3, "\(source)")
            #expect(s.end == .endOfFile)
        }
        #expect(throws: MediaError.fileNotFound(path: "file:/no/such.mp4")) { try FrameSource("file:/no/such.mp4") }
    }
}
