import Foundation
import Synchronization
import Testing
@testable import KVVision

/// Threads per object: encoders with their own `ComputeContext` run at the same time and give
/// exactly the tokens each gives alone. No test here changes a process-wide setting.
@Suite struct ComputeContextTests {
    /// One encoder's run: its frames, its context and what it saw of the other encoder.
    final class Runner: @unchecked Sendable {
        let context = ComputeContext(threads: 2)
        let frames: [Tensor]
        var tokens: [Tensor] = []
        var error: (any Error)?
        /// Frames of this runner during which the other runner's context advanced (it was
        /// computing while this one was inside `encode`).
        var overlappedFrames = 0
        let finished = Atomic<Int>(0)
        init(frames: [Tensor]) { self.frames = frames }
    }

    static func frames(seed: UInt64, count: Int) throws -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        return try (0..<count).map { _ in try Tensor(shape: [3, 80, 96], storage: (0..<(3 * 80 * 96)).map { _ in 2 * rng.nextFloat() }) }
    }

    @Test func twoEncodersWithTheirOwnContextsRunConcurrentlyAndMatchEachAlone() throws {
        let (vit, _) = try VisionTransformer.load(path: TestFiles.fixture("vit/tiny.safetensors").path)
        let count = 40
        let a = Runner(frames: try Self.frames(seed: 1, count: count)), b = Runner(frames: try Self.frames(seed: 2, count: count))
        // Each alone, one after the other, with a context of the same size.
        var alone: [[Tensor]] = []
        for runner in [a, b] {
            var state = try vit.makeState(height: 80, width: 96)
            let context = ComputeContext(threads: 2)
            alone.append(try runner.frames.map { frame in
                try vit.encode(frame, state: &state, context: context)
                return state.tokens
            })
        }
        // Both at once on two threads; each samples the other's progress counter (GEMMs split
        // over the other's pool) before and after each of its frames.
        let ready = Atomic<Int>(0)
        let group = DispatchGroup()
        for (me, other) in [(a, b), (b, a)] {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    var state = try vit.makeState(height: 80, width: 96)
                    ready.add(1, ordering: .sequentiallyConsistent)
                    while ready.load(ordering: .sequentiallyConsistent) < 2 { sched_yield() }
                    for frame in me.frames {
                        let before = other.context.splitGEMMs
                        try vit.encode(frame, state: &state, context: me.context)
                        if other.context.splitGEMMs != before { me.overlappedFrames += 1 }
                        me.tokens.append(state.tokens)
                        me.finished.add(1, ordering: .relaxed)
                    }
                } catch {
                    me.error = error
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        #expect(group.wait(timeout: .now() + 120) == .success, "encoders did not finish within 120 s")
        #expect(a.error == nil && b.error == nil)
        #expect(a.finished.load(ordering: .relaxed) == count && b.finished.load(ordering: .relaxed) == count)
        print("concurrent encoders: A overlapped B in \(a.overlappedFrames)/\(count) frames, B overlapped A in \(b.overlappedFrames)/\(count)")
        // Neither waited for the other to finish: each made progress while the other was mid-frame.
        #expect(a.overlappedFrames > 0 && b.overlappedFrames > 0)
        // Bit-identical to each alone.
        #expect(a.tokens == alone[0])
        #expect(b.tokens == alone[1])
        #expect(a.context.splitGEMMs == count * (1 + 4 * vit.config.depth))
    }
}
