import Foundation
import Synchronization

/// Runs a `StreamPipeline` over its lanes: each lane takes the next decoded frame, prepares it
/// (encoder, heads) on its own threads, waits for the frame's turn, finishes it (temporal heads,
/// tracker, record) and passes the turn on.
///
/// State machine, per lane: `take` (under `decodeLock`: stop if `stopped`, else decode one frame
/// and give it the next sequence number; end of input or a decode error sets `stopped`) →
/// `prepare` (no lock) → `read ahead` (only for a source that is not live and while an earlier
/// frame is still unfinished: `take` the lane's next frame now, so that the decode fills what
/// would be a wait) → `wait` (until `turn` equals the frame's number) → `finish` (skipped once
/// `failed`) → `pass` (`turn += 1`, wake the others) → `take` (unless read ahead). Frame numbers
/// are handed out in decode order and every number taken is finished or skipped in that order; a
/// lane holds at most one frame it waits on (a read-ahead frame is only waited on after the one
/// before it is passed), so no lane waits on a number nobody holds: the lane holding the turn
/// only computes or, reading ahead, decodes one frame.
///
/// Errors, as the one-lane loop has them: a transient frame error is counted and the stream goes
/// on; any other ends it — frames decoded before it are still finished in order when it came from
/// the decoder (every decodable frame is reported), frames after it are dropped when it came from
/// a frame's stages (`failed`); an output error is rethrown by `run` after every lane has stopped.
///
/// Invariants: at most one lane is in `finish` at a time, in frame order; every lane thread is
/// joined before `run` returns. Thread-safety: `decodeLock` guards the provider, `stopped`,
/// `decodeError` and `nextFrame`; `stopped` is atomic (a lane that fails never waits for the
/// lock, which a lane inside a blocking read may hold until the provider's read timeout);
/// `turnCondition` guards `turn`, `failed`, `stageError`, `stageCounters` and `outputError`; the
/// pipeline's own state (tracker, clock, counters, sink) is touched only in `finish`, by the lane
/// holding the turn (the condition's lock orders one turn before the next). Turn waits wake at
/// least once a second to re-check; a lane waits only on another lane's computation or, for
/// `decodeLock`, on one decode (which has the provider's own deadlines).
///
/// The `end` record's counters: after a fatal stage error they are the provider's counters as they
/// stood right after that frame was decoded (what one lane reports, which decodes no further), not
/// after the frames other lanes decoded meanwhile.
final class LaneScheduler: @unchecked Sendable {
    private let pipeline: StreamPipeline
    private let decodeLock = NSLock()
    private let stopped = Atomic<Bool>(false)
    private var decodeError: String?
    private var nextFrame = 0
    private let turnCondition = NSCondition()
    private var turn = 0
    private var failed = false
    private var stageError: String?
    private var stageCounters: (decoded: Int, skipped: Int, corrupt: Int)?
    private var outputError: PipelineError?
    private let finished = DispatchSemaphore(value: 0)

    /// Whether a lane decodes its next frame before its current one's turn (not for live sources).
    private let readAhead: Bool

    init(pipeline: StreamPipeline) {
        self.pipeline = pipeline
        readAhead = !pipeline.provider.isLive
    }

    /// Runs every lane to the end of the stream (lane 0 on the caller's thread); returns the text of
    /// the error that ended it, if any, with the counters the `end` record reports (nil: the
    /// provider's, read after the run), or throws an output error.
    func run() throws(PipelineError) -> (error: String?, counters: (decoded: Int, skipped: Int, corrupt: Int)?) {
        let count = pipeline.lanes.count
        for k in 1..<count {
            let thread = Thread { [self] in
                laneLoop(k)
                finished.signal()
            }
            thread.name = "kvvision-lane-\(k)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        laneLoop(0)
        for _ in 1..<count { finished.wait() }
        if let outputError { throw outputError }
        if let stageError { return (stageError, stageCounters) }
        return (decodeError, nil)
    }

    private func laneLoop(_ k: Int) {
        let lane = pipeline.lanes[k]
        var next = take()
        while let (frame, number, decode, counters) = next {
            var prepared = pipeline.prepare(frame, lane: lane)
            prepared.decode = decode
            // Read ahead: decode this lane's following frame now, while the frame before this one
            // is still finishing on another lane, so the wait for the turn below is shorter or gone.
            // Never for a live source (its next frame may be a frame interval away, and this one's
            // record would wait for it) nor when this frame's turn has come already.
            next = readAhead && !turnIsNow(number) ? take() : nil
            let prefetched = next != nil
            turnCondition.lock()
            while turn != number { _ = turnCondition.wait(until: Date(timeIntervalSinceNow: 1)) }
            let skip = failed
            turnCondition.unlock()
            var failure: (text: String?, output: PipelineError?)?
            if !skip {
                do {
                    try pipeline.finish(frame, prepared, lane: lane)
                } catch {
                    do {
                        if let text = try pipeline.settle(error) { failure = (text, nil) }
                    } catch let output {
                        failure = (nil, output)
                    }
                }
            }
            if failure != nil { stopped.store(true, ordering: .relaxed) }
            turnCondition.lock()
            if let failure {
                failed = true
                stageError = failure.text
                stageCounters = counters
                outputError = failure.output
            }
            turn += 1
            turnCondition.broadcast()
            turnCondition.unlock()
            if !prefetched { next = take() }
        }
    }

    /// Whether frame `number` may be finished at once (no other lane's frame before it is pending).
    private func turnIsNow(_ number: Int) -> Bool {
        turnCondition.lock()
        defer { turnCondition.unlock() }
        return turn == number
    }

    /// The next frame with its number, decode nanoseconds and the provider's counters right after
    /// it; nil once the stream is over.
    private func take() -> (VideoFrame, Int, UInt64, (decoded: Int, skipped: Int, corrupt: Int))? {
        decodeLock.lock()
        defer { decodeLock.unlock() }
        guard !stopped.load(ordering: .relaxed) else { return nil }
        let t0 = StreamPipeline.now()
        do {
            guard let frame = try pipeline.provider.next() else {
                stopped.store(true, ordering: .relaxed)
                return nil
            }
            nextFrame += 1
            return (frame, nextFrame - 1, StreamPipeline.now() &- t0, pipeline.provider.counters)
        } catch {
            stopped.store(true, ordering: .relaxed)
            decodeError = error.description
            return nil
        }
    }
}
