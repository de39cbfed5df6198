import Foundation
import Synchronization
import COpenBLAS

/// The threads one pipeline lane (or one encoder, one temporal head…) computes with: its own
/// `ThreadPool` and how GEMMs use it. Pass one to `VisionTransformer.encode` and
/// `TemporalAttention.step`; give every concurrently running pipeline lane its own, as llama.cpp gives
/// each context its thread pool and whisper.cpp takes threads per call.
///
/// GEMM threading `.pool` (the default) is the per-object mode: OpenBLAS runs single-threaded
/// and each GEMM's rows (attention: its heads × query blocks) are split over this context's pool,
/// so two contexts never share a thread or a lock and run at the same time. OpenBLAS's thread
/// count is one process-wide number; kvvision sets it to 1 once, when the first context is made
/// (the only value the library ever sets), and never touches it again. `.blas` hands each GEMM to
/// OpenBLAS whole, with whatever thread count the application gave OpenBLAS (`GEMM.setThreads`,
/// process-wide): a comparison mode for one pipeline at a time, not a per-object setting.
///
/// Invariants: `pool.threads ≥ 1`; counters only grow. Thread-safety: `Sendable`; a context
/// may be shared, but two callers that share one serialise on its pool's lock — give each
/// concurrent pipeline its own.
public final class ComputeContext: Sendable {
    /// How GEMMs use the threads.
    public enum GEMMThreading: String, Sendable, CaseIterable {
        /// One sgemm call per GEMM, parallelised by OpenBLAS's own (process-wide) threads.
        case blas
        /// OpenBLAS single-threaded; kvvision splits each GEMM's rows (and attention's heads ×
        /// query blocks) over the context's pool. A worker that is descheduled on a busy machine
        /// only delays the chunks it claimed; the caller takes the rest.
        case pool
    }

    /// The worker threads (the caller of a compute call is one of them).
    public let pool: ThreadPool
    /// How GEMMs use `pool`.
    public let gemm: GEMMThreading
    private let splitGEMMCount = Atomic<Int>(0)
    private let splitRowChunkCount = Atomic<Int>(0)
    private let attentionTaskCount = Atomic<Int>(0)

    /// A context with a new pool of `threads` threads (clamped to 1...256).
    public convenience init(threads: Int, gemm: GEMMThreading = .pool) {
        self.init(pool: ThreadPool(threads: threads), gemm: gemm)
    }

    /// A context over an existing pool (which the caller may keep using for its own loops).
    public init(pool: ThreadPool, gemm: GEMMThreading = .pool) {
        _ = Self.singleThreadedBLAS
        self.pool = pool
        self.gemm = gemm
    }

    /// One thread, pool-mode GEMMs: what compute calls use when given no context. Shares no lock
    /// with anything (a one-thread pool runs every loop inline on the caller).
    public static let serial = ComputeContext(threads: 1)

    /// Threads of the pool, the caller included.
    public var threads: Int { pool.threads }

    /// Threads to use when nothing is configured: `KVVISION_THREADS` if set, else the active core count.
    public static var defaultThreads: Int {
        if let s = ProcessInfo.processInfo.environment["KVVISION_THREADS"], let n = Int(s), n >= 1 { return min(n, 256) }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// GEMMs whose rows were split over the pool (more than one chunk), since creation.
    public var splitGEMMs: Int { splitGEMMCount.load(ordering: .relaxed) }
    /// Row chunks those split GEMMs ran (the sum of their chunk counts).
    public var splitRowChunks: Int { splitRowChunkCount.load(ordering: .relaxed) }
    /// (head, query block) tasks that split attention ran over the pool.
    public var attentionTasks: Int { attentionTaskCount.load(ordering: .relaxed) }

    /// How many row chunks a GEMM of `m` rows is split into (1: one sgemm call): in `.pool` mode
    /// with several threads, chunks of at least 32 rows, at most one per thread.
    public func rowChunks(m: Int) -> Int {
        guard gemm == .pool, pool.threads > 1 else { return 1 }
        return max(1, min(pool.threads, m / 32))
    }

    /// Row chunks of a GEMM that kvvision computes itself (int8/bf16 kernels, no OpenBLAS), in
    /// any GEMM mode: chunks of at least 32 rows, at most one per thread.
    public func poolChunks(m: Int) -> Int {
        pool.threads > 1 ? max(1, min(pool.threads, m / 32)) : 1
    }

    func noteSplitGEMM(chunks: Int) {
        splitGEMMCount.add(1, ordering: .relaxed)
        splitRowChunkCount.add(chunks, ordering: .relaxed)
    }

    func noteAttentionTasks(_ n: Int) {
        attentionTaskCount.add(n, ordering: .relaxed)
    }

    /// Runs OpenBLAS single-threaded, once per process, before the first context computes.
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)
}
