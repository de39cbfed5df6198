import Foundation
import Synchronization

/// A fixed set of worker threads that runs data-parallel loops (`parallelFor`) for the non-BLAS
/// kernels (LayerNorm, GELU, softmax, im2col).
///
/// Protocol: a job is published as one 64-bit ticket `generation(24) | count(20) | next(20)`.
/// Threads claim task indices by compare-and-swap on that ticket, so a worker that wakes late
/// (descheduled on a busy machine) finds the generation moved on and claims nothing from a
/// job that is gone; the caller works on its own job and waits only for tasks that were claimed,
/// never for idle workers to show up. The job closure is written before the ticket (release)
/// and read after a successful claim (acquire); it stays valid until every claimed task is done.
/// Workers spin briefly for the next job, then sleep on a condition variable.
///
/// Invariants: `threads ≥ 1`; the caller is one of the threads (`threads − 1` workers).
/// Thread-safety: `run` / `parallelFor` may be called from any thread; concurrent callers of the
/// same pool are serialised (one job at a time), so concurrent pipelines each own a pool (see
/// `ComputeContext`); pools share nothing with each other. Not reentrant: a task must not call
/// `run` on the same pool (it would deadlock).
public final class ThreadPool: @unchecked Sendable {
    /// Number of threads that execute tasks, the caller included.
    public let threads: Int

    private static let indexBits: UInt64 = 20
    private static let maxTasks = (1 << 20) - 1
    private let ticket = Atomic<UInt64>(0)
    private let generation = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let exited = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let runLock = Mutex<Void>(())
    private let sleepMutex: UnsafeMutablePointer<pthread_mutex_t>
    private let sleepCond: UnsafeMutablePointer<pthread_cond_t>
    // Written before the ticket is published; read by a thread after it claimed a task.
    private var job: ((Int) -> Void)?

    /// A pool of `threads` threads (clamped to 1...256); `threads - 1` workers start now.
    public init(threads: Int) {
        self.threads = min(max(1, threads), 256)
        sleepMutex = .allocate(capacity: 1)
        sleepCond = .allocate(capacity: 1)
        pthread_mutex_init(sleepMutex, nil)
        pthread_cond_init(sleepCond, nil)
        for index in 1..<self.threads {
            // unowned(unsafe): workers must not keep the pool alive; deinit waits for them to leave.
            let worker = Thread { [unowned(unsafe) self] in self.workerLoop() }
            worker.name = "kvvision-pool-\(index)"
            worker.stackSize = 1 << 20
            worker.start()
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        wakeWorkers()
        while exited.load(ordering: .acquiring) < threads - 1 { sched_yield() }
        pthread_cond_destroy(sleepCond)
        pthread_mutex_destroy(sleepMutex)
        sleepCond.deallocate()
        sleepMutex.deallocate()
    }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool; returns when all are done.
    public func run(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i) }
            return
        }
        if count > Self.maxTasks {
            for base in stride(from: 0, to: count, by: Self.maxTasks) {
                let n = min(Self.maxTasks, count - base)
                run(n) { body(base + $0) }
            }
            return
        }
        runLock.withLock { _ in
            withoutActuallyEscaping(body) { escaping in
                job = escaping
                done.store(0, ordering: .relaxed)
                let gen = generation.load(ordering: .relaxed) + 1
                ticket.store(Self.pack(gen, count, 0), ordering: .releasing)
                generation.store(gen, ordering: .releasing)
                wakeWorkers()
                drain(gen)
                var spins = 0
                while done.load(ordering: .acquiring) < count {
                    spins += 1
                    if spins > 1000 { sched_yield() }
                }
                job = nil
            }
        }
    }

    /// Runs `body` over `0..<count` split into contiguous chunks of at least `grain` items
    /// (up to four chunks per thread, for balance on a busy machine).
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let maxChunks = max(1, count / max(1, grain))
        let chunks = min(maxChunks, threads == 1 ? 1 : threads * 4)
        if chunks == 1 {
            body(0..<count)
            return
        }
        let size = (count + chunks - 1) / chunks
        run(chunks) { c in
            let lo = c * size
            let hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }

    private static func pack(_ gen: Int, _ count: Int, _ next: Int) -> UInt64 {
        (UInt64(truncatingIfNeeded: gen) & 0xFF_FFFF) << (2 * indexBits) | UInt64(count) << indexBits | UInt64(next)
    }

    /// Claims and runs tasks of generation `gen` until none is left.
    private func drain(_ gen: Int) {
        let mask: UInt64 = (1 << Self.indexBits) - 1
        let want = UInt64(truncatingIfNeeded: gen) & 0xFF_FFFF
        var t = ticket.load(ordering: .acquiring)
        while true {
            guard t >> (2 * Self.indexBits) == want else { return }
            let count = (t >> Self.indexBits) & mask, next = t & mask
            guard next < count else { return }
            let (exchanged, original) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                job?(Int(next))
                done.add(1, ordering: .releasing)
                t = ticket.load(ordering: .acquiring)
            } else {
                t = original
            }
        }
    }

    private func wakeWorkers() {
        pthread_mutex_lock(sleepMutex)
        pthread_cond_broadcast(sleepCond)
        pthread_mutex_unlock(sleepMutex)
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 4000 { continue }
                pthread_mutex_lock(sleepMutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(sleepCond, sleepMutex) }
                pthread_mutex_unlock(sleepMutex)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) {
                exited.add(1, ordering: .releasing)
                return
            }
            drain(seen)
        }
    }
}
