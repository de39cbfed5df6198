import Foundation

/// Time as the daemon sees it: a monotonic clock for intervals (watchdog, backoff, latency), the
/// wall clock for reports, and a wait that a stop cuts short. Injected so that tests of backoff
/// and reconnects run on virtual time, instantly and deterministically.
///
/// Thread-safety: implementations are safe from any thread.
public protocol ServeClock: Sendable {
    /// Monotonic seconds (arbitrary origin).
    func now() -> Double
    /// Seconds since the Unix epoch.
    func wallTime() -> Double
    /// Waits `seconds` or until `stop` is signalled; returns true when stopped.
    func wait(_ seconds: Double, unless stop: StopSignal) -> Bool
}

/// The real clocks: `DispatchTime` (monotonic) and `Date`.
public struct SystemClock: ServeClock {
    public init() {}
    public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    public func wallTime() -> Double { Date().timeIntervalSince1970 }
    public func wait(_ seconds: Double, unless stop: StopSignal) -> Bool { stop.wait(timeout: seconds) }
}

/// A one-shot event: set once, then every wait returns at once. Waits always carry a timeout.
///
/// Thread-safety: safe from any thread (a condition variable guards the flag).
public final class StopSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var set = false

    public init() {}

    /// Sets the event and wakes every waiter.
    public func signal() {
        condition.lock()
        set = true
        condition.broadcast()
        condition.unlock()
    }

    public var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return set
    }

    /// Waits up to `timeout` seconds; true when the event is set.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, min(timeout, 1e6)))
        condition.lock()
        defer { condition.unlock() }
        while !set {
            if !condition.wait(until: deadline) { break }
        }
        return set
    }
}
