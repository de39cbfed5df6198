import Foundation
import Testing
@testable import KVVision

/// Inputs the fuzzing campaign (`kvvision-fuzz`, docs/reliability.md) found failing, committed
/// under Fixtures/fuzz/ and kept as regressions.
@Suite struct FuzzRegressionTests {
    /// avi #2014 of campaign seed 12: 12 frames of 64×48 MPEG-4 whose mutated headers make one
    /// frame 7934×8127. It decoded and scaled a 64-megapixel picture (seconds of CPU, 250 MB) and
    /// hit the campaign's 5 s limit on a loaded machine; now the decoder refuses any picture over
    /// `FrameSource.maxPixels` and the packet counts as corrupt.
    @Test func aHeaderAnnouncingAGiantPictureIsACorruptPacketNotAGiantDecode() throws {
        let path = TestFiles.fixture("fuzz/avi-giant-frame.avi").path
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
