import Foundation
import Testing
@testable import KVVision

/// Inputs the fuzzing campaign (`kvvision-fuzz`, docs/reliability.md) found failing, committed
/// under Fixtures/fuzz/ and kept as regressions.
@Suite struct FuzzRegressionTests {
    /// avi #2014 and mkv #6561 of campaign seed 12: 12 frames of 64×48 (MPEG-4 in AVI, VP8 in
    /// Matroska) whose mutated headers make frames 7934×8127 and 8809×12406. They decoded and
    /// scaled 64- and 109-megapixel pictures (seconds of CPU, 250 MB) and hit the campaign's 5 s
    /// limit on a loaded machine; now the decoder refuses any picture over `FrameSource.maxPixels`
    /// and such a packet counts as corrupt.
    @Test(arguments: ["fuzz/avi-giant-frame.avi", "fuzz/vp8-giant-frame.mkv"])
    func aHeaderAnnouncingAGiantPictureIsACorruptPacketNotAGiantDecode(_ fixture: String) throws {
        let path = TestFiles.fixture(fixture).path
        let source = try FrameSource(path, options: FrameSourceOptions(width: 40, height: 30, threads: 1))
        var frames = 0
        do {
            while let frame = try source.next() {
                frames += 1
                #expect(frame.sourceWidth * frame.sourceHeight <= FrameSource.maxPixels,
                        "frame \(frame.index) decoded at \(frame.sourceWidth)x\(frame.sourceHeight)")
            }
        } catch {
            #expect(!error.description.isEmpty)  // a clean, typed MediaError is fine
        }
        #expect(frames > 0)
    }
}
