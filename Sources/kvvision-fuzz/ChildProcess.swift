#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs one closure in a forked child process under a wall-time limit and a memory limit, and
/// classifies how it ended.
///
/// Invariants: the parent must be single-threaded apart from library threads that survive a fork
/// (OpenBLAS registers `pthread_atfork` handlers); the child never returns into the caller (it
/// ends with `_exit`), so a crash, hang or runaway allocation in the closure cannot reach the
/// campaign. Memory is bounded twice: the child's resident set is sampled while the parent waits
/// (over `memoryLimit` → killed, `.memory`), and `RLIMIT_AS` caps its address space at the
/// parent's size plus 4 × `memoryLimit` so a sudden giant allocation fails instead of swapping.
///
/// Thread-safety: call from one thread at a time.
struct ChildProcess {
    /// How a child ended.
    enum Outcome: Equatable {
        /// The closure returned (whether it threw a clean error is `rejected`).
        case finished(rejected: Bool)
        /// Killed by a signal it raised itself (trap, segfault, abort, …).
        case crash(signal: Int32)
        /// Still running at the time limit; killed.
        case hang
        /// Resident set over the memory limit; killed.
        case memory(bytes: Int)
        /// Exited with an unexpected status.
        case exit(status: Int32)

        var isFailure: Bool {
            if case .finished = self { return false }
            return true
        }
    }

    var timeLimit: Double
    var memoryLimit: Int
    /// Peak resident bytes of the last child (from `wait4`'s rusage).
    private(set) var lastPeakRSS = 0

    init(timeLimit: Double, memoryLimit: Int) {
        self.timeLimit = timeLimit
        self.memoryLimit = memoryLimit
    }

    /// Runs `body` in a child; `body` returns true when the input was rejected with a clean error.
    mutating func run(_ body: () -> Bool) -> Outcome {
        let addressLimit = Self.ownVirtualBytes() + 4 * memoryLimit
        let pid = fork()
        if pid == 0 {
            var limit = rlimit(rlim_cur: rlim_t(addressLimit), rlim_max: rlim_t(addressLimit))
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
            var core = rlimit(rlim_cur: 0, rlim_max: 0)
            setrlimit(Int32(RLIMIT_CORE.rawValue), &core)
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 1); dup2(null, 2) }
            let rejected = body()
            _exit(rejected ? 3 : 0)
        }
        guard pid > 0 else { return .exit(status: -1) }
        let start = Date()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var status: Int32 = 0
        var usage = rusage()
        var killedFor: Outcome?
        var polls = 0
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .exit(status: -1) }
            if killedFor == nil {
                if Date().timeIntervalSince(start) > timeLimit {
                    killedFor = .hang
                    kill(pid, SIGKILL)
                } else if let rss = Self.residentPages(pid).map({ $0 * page }), rss > memoryLimit {
                    killedFor = .memory(bytes: rss)
                    kill(pid, SIGKILL)
                }
            }
            polls += 1
            usleep(polls < 50 ? 200 : 2_000)
        }
        lastPeakRSS = Int(usage.ru_maxrss) * 1024
        if let killedFor { return killedFor }
        let termsig = status & 0x7f
        if termsig != 0 { return .crash(signal: termsig) }
        let code = (status >> 8) & 0xff
        switch code {
        case 0: return .finished(rejected: false)
        case 3: return .finished(rejected: true)
        default: return .exit(status: code)
        }
    }

    /// Resident pages of `pid` (second field of /proc/PID/statm), nil when it cannot be read.
    static func residentPages(_ pid: pid_t) -> Int? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
        return fields.count > 1 ? Int(fields[1]) : nil
    }

    /// This process's virtual size in bytes.
    static func ownVirtualBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0, let pages = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ").first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
