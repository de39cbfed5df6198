import Foundation

/// The bounded queue between a stream's reader and its analysis: when analysis falls behind and
/// the queue is full, a new item pushes out the oldest one (counted), so what is analysed is
/// always recent and latency stays bounded.
///
/// Latency bound: with capacity C, a camera at F frames/s and analysis taking A s per frame, a
/// frame that is analysed at all is flushed at most `(C − 1) · min(1/F, A) + 2A` seconds after it
/// was queued (it reaches the head after at most C − 1 removals — an analysis or a drop each —
/// then waits for the frame in flight and its own analysis); roughly `C / F + 2A` when analysis
/// falls behind. With C = 4, F = 25 and A = 40 ms: ≤ 0.2 s.
///
/// Invariants: `count ≤ capacity`; `pushed == popped + dropped + discarded + count`; after
/// `close()` pushes are refused and pops return the remaining items (or none, when discarded).
///
/// Thread-safety: safe from any thread (one lock and condition); every wait has a timeout.
public final class FrameQueue<Element>: @unchecked Sendable {
    /// Result of a `pop`.
    public enum Pop {
        case item(Element)
        /// Nothing arrived within the timeout.
        case timedOut
        /// Closed and empty.
        case closed
    }

    public let capacity: Int
    private let condition = NSCondition()
    private var ring: [Element?]
    private var head = 0
    private var size = 0
    private var isClosed = false
    private var counters = (pushed: 0, popped: 0, dropped: 0, discarded: 0)

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        ring = Array(repeating: nil, count: self.capacity)
    }

    /// Appends `item`; when full, removes the oldest item first. Returns false (item refused)
    /// after `close()`.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { return false }
        counters.pushed += 1
        if size == capacity {
            ring[head] = nil
            head = (head + 1) % capacity
            size -= 1
            counters.dropped += 1
        }
        ring[(head + size) % capacity] = item
        size += 1
        condition.signal()
        return true
    }

    /// The oldest item, waiting up to `timeout` seconds for one.
    public func pop(timeout: Double) -> Pop {
        let deadline = Date().addingTimeInterval(max(0, min(timeout, 1e6)))
        condition.lock()
        defer { condition.unlock() }
        while size == 0 {
            if isClosed { return .closed }
            if !condition.wait(until: deadline) {
                if size > 0 { break }
                return isClosed ? .closed : .timedOut
            }
        }
        let item = ring[head]!
        ring[head] = nil
        head = (head + 1) % capacity
        size -= 1
        counters.popped += 1
        return .item(item)
    }

    /// Refuses further pushes and wakes waiters; with `discard`, drops what is queued (counted
    /// as discarded) so the consumer stops after the item in flight.
    public func close(discard: Bool = false) {
        condition.lock()
        isClosed = true
        if discard {
            counters.discarded += size
            for i in 0..<capacity { ring[i] = nil }
            size = 0
        }
        condition.broadcast()
        condition.unlock()
    }

    /// Items waiting now.
    public var count: Int { condition.lock(); defer { condition.unlock() }; return size }
    /// Items pushed out by newer ones (analysis behind).
    public var dropped: Int { condition.lock(); defer { condition.unlock() }; return counters.dropped }
    /// Items thrown away by `close(discard: true)`.
    public var discarded: Int { condition.lock(); defer { condition.unlock() }; return counters.discarded }
    /// Items accepted by `push`.
    public var pushed: Int { condition.lock(); defer { condition.unlock() }; return counters.pushed }
    /// Items handed out by `pop`.
    public var popped: Int { condition.lock(); defer { condition.unlock() }; return counters.popped }
}
