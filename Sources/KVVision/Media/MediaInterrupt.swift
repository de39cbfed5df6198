import CFFmpeg
import Dispatch
import Synchronization

/// The interrupt callback of one input: a deadline for the blocking FFmpeg call in progress
/// (open, probe, read) and a cancel flag that any thread may set.
///
/// FFmpeg calls `interrupt_callback` from inside blocking I/O (connect, read, retry loops); when it
/// returns 1 the call fails with `AVERROR_EXIT`. kvvision arms a deadline before each blocking call
/// and disarms it after, so a network source that stops answering fails with `.timedOut` after the
/// configured seconds instead of blocking forever (this backs up the protocols' own `timeout`
/// options, which do not cover every wait).
///
/// Invariants: the deadline (0 = disarmed) is set and read only on the thread that owns the input;
/// `expired` records whether the last abort came from the deadline.
///
/// Thread-safety: `cancel()` and `isCancelled` are safe from any thread (atomic); `arm`/`disarm`
/// belong to the input's own thread.
public final class MediaInterrupt: @unchecked Sendable {
    private let cancelled = Atomic<Bool>(false)
    private var deadline: UInt64 = 0
    private(set) var expired = false

    public init() {}

    /// Asks the input to stop: the blocking call in progress (and every later one) fails with `.cancelled`.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    /// True after `cancel()`.
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Starts a deadline `seconds` from now for the next blocking call.
    func arm(seconds: Double) {
        expired = false
        deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, seconds) * 1e9)
    }

    /// Clears the deadline.
    func disarm() { deadline = 0 }

    /// Called by FFmpeg: true (abort) when cancelled or past the deadline.
    fileprivate func shouldAbort() -> Bool {
        if isCancelled { return true }
        if deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline {
            expired = true
            return true
        }
        return false
    }

    /// The C callback and its opaque pointer (unretained: the input holding it keeps `self` alive).
    var callback: AVIOInterruptCB {
        AVIOInterruptCB(callback: { opaque in
            guard let opaque else { return 0 }
            return Unmanaged<MediaInterrupt>.fromOpaque(opaque).takeUnretainedValue().shouldAbort() ? 1 : 0
        }, opaque: Unmanaged.passUnretained(self).toOpaque())
    }

    /// The error for a blocking FFmpeg call that returned `ret` < 0 because of this interrupt:
    /// `.cancelled`, `.timedOut` (deadline passed, AVERROR_EXIT or ETIMEDOUT), or nil when the
    /// failure is FFmpeg's own.
    func failure(_ ret: Int32, source: String, stage: String, seconds: Double) -> MediaError? {
        if isCancelled { return .cancelled(source: source) }
        if expired || ret == kvv_averror_exit() || ret == kvv_averror(ETIMEDOUT) {
            return .timedOut(source: source, stage: stage, seconds: seconds)
        }
        return nil
    }
}
