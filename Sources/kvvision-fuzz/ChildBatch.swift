#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs a batch of inputs in one forked child, one after another, and reports how each ended;
/// forking once per batch instead of once per input cuts the campaign's CPU cost several-fold.
///
/// Protocol: before input `i` the child writes `i` to a pipe, after it `i | 1 << 62` (accepted)
/// or `i | 1 << 63` (rejected). The parent waits on the pipe with the per-input time limit
/// (`timeLimit` since the last start), samples the child's resident set, and kills it when an
/// input runs over either limit; a child that dies by a signal crashed on the input it last
/// started. The caller re-runs every failing input alone in a fresh child (`ChildProcess`), so a
/// failure caused by an earlier input's leftovers is told apart (it does not reproduce alone).
///
/// Invariants: inputs are generated in the child from their index (a pure function), so the
/// parent regenerates any of them; after a failure the next batch starts at the following index.
///
/// Thread-safety: one thread.
struct ChildBatch {
    enum Event {
        case finished(index: Int, rejected: Bool)
        case failed(index: Int, outcome: ChildProcess.Outcome)
    }

    var timeLimit: Double
    var memoryLimit: Int

    /// Peak resident bytes of the last batch's child (from `wait4`'s rusage).
    private(set) var lastPeakRSS = 0

    /// Runs `body(i)` for `range` in one child; returns the events in order, ending early at a failure.
    mutating func run(_ range: Range<Int>, _ body: (Int) -> Bool) -> [Event] {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return [] }
        let addressLimit = ChildProcess.ownVirtualBytes() + 4 * memoryLimit
        let pid = fork()
        if pid == 0 {
            close(fds[0])
            var limit = rlimit(rlim_cur: rlim_t(addressLimit), rlim_max: rlim_t(addressLimit))
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
            var core = rlimit(rlim_cur: 0, rlim_max: 0)
            setrlimit(Int32(RLIMIT_CORE.rawValue), &core)
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 1); dup2(null, 2) }
            func send(_ v: UInt64) { var v = v; _ = write(fds[1], &v, 8) }
            for i in range {
                send(UInt64(i))
                send(UInt64(i) | (body(i) ? 1 << 63 : 1 << 62))
            }
            _exit(0)
        }
        close(fds[1])
        defer { close(fds[0]) }
        guard pid > 0 else { return [] }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var events: [Event] = []
        var current: Int?
        var started = Date()
        var killedFor: ChildProcess.Outcome?
        var buffer = [UInt8](repeating: 0, count: 8 * 512)
        var pending: [UInt8] = []
        var open = true
        while open {
            var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 20)
            if ready > 0 {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { open = false } else {
                    pending += buffer[0..<n]
                    while pending.count >= 8 {
                        var v: UInt64 = 0
                        for k in 0..<8 { v |= UInt64(pending[k]) << (8 * UInt64(k)) }
                        pending.removeFirst(8)
                        if v >> 62 == 0 {
                            current = Int(v); started = Date()
                        } else {
                            events.append(.finished(index: Int(v & ((1 << 62) - 1)), rejected: v >> 63 == 1))
                            current = nil
                        }
                    }
                }
            }
            if killedFor == nil, open {
                if current != nil, Date().timeIntervalSince(started) > timeLimit {
                    killedFor = .hang; kill(pid, SIGKILL)
                } else if let rss = ChildProcess.residentPages(pid).map({ $0 * page }), rss > memoryLimit {
                    killedFor = .memory(bytes: rss); kill(pid, SIGKILL)
                }
            }
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        lastPeakRSS = Int(usage.ru_maxrss) * 1024
        if let current {
            let termsig = status & 0x7f
            let outcome: ChildProcess.Outcome = killedFor ?? (termsig != 0 ? .crash(signal: termsig) : .exit(status: (status >> 8) & 0xff))
            events.append(.failed(index: current, outcome: outcome))
        }
        return events
    }
}
