import Foundation
import Testing
@testable import KVVision

/// The reconnect schedule and the bounded queue, on injected randomness and without timing.
@Suite struct ServeBackoffTests {
    @Test func scheduleGrowsExponentiallyUpToMaxWithJitterInsideItsBound() {
        let config = BackoffConfig(initial: 1, max: 10, multiplier: 2, jitter: 0.5)
        let draws = [0.0, 0.5, 0.999, 0.25, 0.0, 0.5, 0.75]
        let index = Index()
        var schedule = BackoffSchedule(config) { index.next(draws) }
        let delays = (0..<7).map { _ in schedule.nextDelay() }
        // bounds 1, 2, 4, 8, 10, 10, 10 reduced by 0.5·draw
        let expected = [1.0, 1.5, 4 * (1 - 0.4995), 7.0, 10, 7.5, 10 * (1 - 0.375)]
        for (d, e) in zip(delays, expected) { #expect(abs(d - e) < 1e-9, "\(delays)") }
        #expect(schedule.attempt == 7)
        schedule.reset()
        #expect(schedule.nextBound == 1)
        #expect(abs(schedule.nextDelay() - 1 * (1 - 0.5 * 0.0)) < 1e-9)  // draws wrap around: 0.0
    }

    @Test func everyDelayLiesWithinItsBoundForAnyDraw() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let config = BackoffConfig(initial: Double(rng.nextInt(in: 1...50)) / 10, max: 60,
                                       multiplier: 1 + Double(rng.nextInt(in: 0...30)) / 10, jitter: Double(rng.nextInt(in: 0...10)) / 10)
            for attempt in 1...40 {
                let unit = Double(rng.next() >> 11) / Double(1 << 53)
                let d = config.delay(attempt: attempt, unit: unit)
                let bound = config.bound(attempt: attempt)
                #expect(d <= bound && d >= bound * (1 - config.jitter) - 1e-12 && bound <= config.max)
            }
        }
        #expect(BackoffConfig(initial: 1, max: 30, multiplier: 100).bound(attempt: 100_000) == 30)
        #expect(BackoffConfig().delay(attempt: 1, unit: .nan) == 1)
    }

    @Test func queueDropsOldestWhenFullAndCountsIt() {
        let q = FrameQueue<Int>(capacity: 3)
        for i in 0..<7 { #expect(q.push(i)) }
        #expect(q.count == 3 && q.dropped == 4 && q.pushed == 7)
        var got: [Int] = []
        while case let .item(i) = q.pop(timeout: 0) { got.append(i) }
        #expect(got == [4, 5, 6])
        if case .timedOut = q.pop(timeout: 0.01) {} else { Issue.record("an empty open queue must time out") }
        q.push(7)
        q.push(8)
        q.close()
        #expect(!q.push(9))
        if case let .item(i) = q.pop(timeout: 0) { #expect(i == 7) } else { Issue.record("close keeps queued items") }
        q.close(discard: true)
        #expect(q.discarded == 1)
        if case .closed = q.pop(timeout: 1) {} else { Issue.record("closed and empty") }
        #expect(q.pushed == q.popped + q.dropped + q.discarded + q.count)
    }

    @Test func queueUnderConcurrentProducerAndSlowConsumerKeepsOrderAndAccounts() {
        let q = FrameQueue<Int>(capacity: 4)
        let producer = Thread {
            for i in 0..<2000 { q.push(i) }
            q.close()
        }
        producer.start()
        var got: [Int] = []
        loop: while true {
            switch q.pop(timeout: 5) {
            case let .item(i):
                got.append(i)
                if got.count % 50 == 0 { usleep(200) }
            case .timedOut: Issue.record("producer stalled"); break loop
            case .closed: break loop
            }
        }
        #expect(zip(got, got.dropFirst()).allSatisfy { $0 < $1 })
        #expect(got.count + q.dropped == 2000)
        #expect(got.last == 1999)
    }

    @Test func rateGateKeepsFramesOnTheFpsGrid() {
        var gate = AnalysisRateGate(.fps(5))
        let kept = (0..<50).filter { gate.admit(Double($0) * 0.04) }  // 2 s of 25 fps
        #expect(kept.count == 10)
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $1 - $0 == 5 })
        var all = AnalysisRateGate(.fps(25))
        #expect((0..<50).allSatisfy { all.admit(Double($0) * 0.04 + ($0 % 2 == 0 ? 0.001 : -0.001)) })
        var every = AnalysisRateGate(.every(3))
        #expect((0..<10).allSatisfy { every.admit(Double($0)) })
    }

    @Test func streamClockContinuesAcrossConnections() {
        var clock = StreamTimeline()
        let a = (0..<3).map { clock.place(index: $0, pts: Double($0) * 0.04, connection: 1, now: 10 + Double($0) * 0.04, frameInterval: 0.04) }
        let b = (0..<3).map { clock.place(index: $0, pts: 5 + Double($0) * 0.04, connection: 2, now: 17 + Double($0) * 0.04, frameInterval: 0.04) }
        let c = clock.place(index: 0, pts: 0, connection: 3, now: 17.1, frameInterval: 0.04)  // reconnect faster than a frame
        let all = a + b + [c]
        #expect(all.map(\.frame) == [0, 1, 2, 3, 4, 5, 6])
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.time < $1.time })
        #expect(abs(b[0].time - (a[2].time + (17 - 10.08))) < 1e-9)  // advanced by the outage: last frame read at 10.08, next at 17
        #expect(abs(c.time - (b[2].time + 0.04)) < 1e-9)
        #expect(b[0].sourcePts == 5 && b[0].sourceIndex == 0 && b[0].connection == 2)
    }
}

/// A thread-safe cursor over a fixed list of draws (wrapping).
final class Index: @unchecked Sendable {
    private var i = 0
    private let lock = NSLock()
    func next(_ values: [Double]) -> Double {
        lock.lock()
        defer { lock.unlock() }
        let v = values[i % values.count]
        i += 1
        return v
    }
}
