import Foundation
import Synchronization

/// A fixed set of worker threads that runs data-parallel loops (`parallelFor`) for the non-BLAS
/// kernels (LayerNorm, GELU, softmax, bias and residual passes).
///
/// Invariants: `threads ≥ 1`; the caller of `run` is one of the threads, so `threads - 1` workers
/// are started. Each job is published under a generation counter and every worker acknowledges
/// every generation before the next job is published, so no worker can run a stale job. Workers
/// spin briefly for the next job, then sleep on a condition variable.
///
/// Thread-safety: `run` / `parallelFor` may be called from any thread; concurrent callers are
/// serialised. Not reentrant: a task must not call `run` on the same pool (it would deadlock).
public final class ThreadPool: @unchecked Sendable {
    /// Number of threads that execute tasks, the caller included.
    public let threads: Int

    private let generation = Atomic<Int>(0)
    private let ticket = Atomic<Int>(0)
    private let arrived = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let runLock = Mutex<Void>(())
    private let sleepMutex: UnsafeMutablePointer<pthread_mutex_t>
    private let sleepCond: UnsafeMutablePointer<pthread_cond_t>
    // Published before the generation bump, read by workers after observing it.
    private var job: ((Int) -> Void)?
    private var taskCount = 0
    private var workers: [Thread] = []

    /// A pool of `threads` threads (clamped to 1...256); `threads - 1` workers start now.
    public init(threads: Int) {
        self.threads = min(max(1, threads), 256)
        sleepMutex = .allocate(capacity: 1)
        sleepCond = .allocate(capacity: 1)
        pthread_mutex_init(sleepMutex, nil)
        pthread_cond_init(sleepCond, nil)
        for index in 1..<self.threads {
            let worker = Thread { [unowned(unsafe) self] in self.workerLoop() }
            worker.name = "kvvision-pool-\(index)"
            worker.stackSize = 1 << 20
            workers.append(worker)
            worker.start()
        }
    }

    deinit {
        // Workers reference the pool unowned(unsafe): its fields stay valid until they have all left.
        arrived.store(0, ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(sleepMutex)
        pthread_cond_broadcast(sleepCond)
        pthread_mutex_unlock(sleepMutex)
        // Workers hold no strong reference; wait until every one has left its loop.
        while arrived.load(ordering: .acquiring) < threads - 1 { sched_yield() }
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
        runLock.withLock { _ in
            withoutActuallyEscaping(body) { escaping in
                job = escaping
                taskCount = count
                ticket.store(0, ordering: .relaxed)
                arrived.store(0, ordering: .relaxed)
                generation.add(1, ordering: .releasing)
                pthread_mutex_lock(sleepMutex)
                pthread_cond_broadcast(sleepCond)
                pthread_mutex_unlock(sleepMutex)
                drain()
                var spins = 0
                while arrived.load(ordering: .acquiring) < threads - 1 {
                    spins += 1
                    if spins > 256 { sched_yield() }
                }
                job = nil
            }
        }
    }

    /// Runs `body` over `0..<count` split into contiguous chunks of at least `grain` items
    /// (about four chunks per thread for balance).
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let maxChunks = max(1, count / max(1, grain))
        let chunks = min(maxChunks, threads == 1 ? 1 : threads * 4)
        let size = (count + chunks - 1) / chunks
        run(chunks) { c in
            let lo = c * size
            let hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }

    private func drain() {
        let n = taskCount
        guard let body = job else { return }
        while true {
            let i = ticket.add(1, ordering: .relaxed).oldValue
            if i >= n { break }
            body(i)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 20_000 { continue }
                pthread_mutex_lock(sleepMutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(sleepCond, sleepMutex) }
                pthread_mutex_unlock(sleepMutex)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) {
                arrived.add(1, ordering: .releasing)
                return
            }
            drain()
            arrived.add(1, ordering: .releasing)
        }
    }
}

/// The process-wide parallelism setting: one shared `ThreadPool` plus the OpenBLAS thread count.
///
/// Thread-safety: `setThreads` swaps the pool under a lock; callers that captured the previous
/// pool keep a valid one.
public enum Parallel {
    private static let state = Mutex<ThreadPool>(ThreadPool(threads: defaultThreads))

    /// Threads used when nothing is configured: `KVVISION_THREADS` if set, else the active core count.
    public static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["KVVISION_THREADS"], let n = Int(s), n >= 1 { return min(n, 256) }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The shared pool.
    public static var pool: ThreadPool { state.withLock { $0 } }

    /// Number of threads of the shared pool.
    public static var threads: Int { pool.threads }

    /// Uses `n` threads (clamped to 1...256) for both the shared pool and OpenBLAS.
    public static func setThreads(_ n: Int) {
        let n = min(max(1, n), 256)
        state.withLock { pool in
            if pool.threads != n { pool = ThreadPool(threads: n) }
        }
        GEMM.setThreads(n)
    }
}
