import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The write end of the signal pipe, read by the C signal handler (async-signal-safe: one
/// `write` of one byte). -1 while no watcher is installed.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Turns process signals into calls on a thread of its own: SIGTERM/SIGINT for an orderly stop,
/// SIGHUP to reopen outputs (log rotation).
///
/// A self-pipe: the installed handler (`sigaction`, `SA_RESTART`) only writes the signal number
/// to a pipe; a watcher thread polls the pipe (100 ms timeout, so `cancel()` is prompt) and
/// calls `handler`. The handler is in place when `init` returns (no lost early signal), the
/// signals are unblocked in the calling thread (and the threads it starts later), and the
/// signals' previous dispositions come back on `cancel()`.
///
/// Invariants: one watcher per process at a time (`init` throws while another is active); each
/// delivered signal calls `handler` once, in delivery order (signals of one number arriving
/// together may coalesce, as POSIX signals do).
///
/// Thread-safety: create and cancel from one thread; `handler` runs on the watcher thread.
public final class SignalWatcher: @unchecked Sendable {
    /// What a signal asks the daemon to do.
    public enum Action: Sendable, Equatable {
        case stop, reopenOutputs, other(Int32)
        public init(signal: Int32) {
            switch signal {
            case SIGTERM, SIGINT: self = .stop
            case SIGHUP: self = .reopenOutputs
            default: self = .other(signal)
            }
        }
    }

    private static let active = NSLock()
    nonisolated(unsafe) private static var installed = false  // guarded by `active`

    public let signals: [Int32]
    private var previous: [(Int32, sigaction)] = []
    private var pipeEnds: (read: Int32, write: Int32) = (-1, -1)
    private let stop = StopSignal()
    private let done = StopSignal()
    private var running = false

    /// Installs handlers for `signals`; `handler` gets each signal number on the watcher thread.
    public init(signals: [Int32] = [SIGTERM, SIGINT, SIGHUP], handler: @escaping @Sendable (Int32) -> Void) throws(ServeError) {
        self.signals = signals
        Self.active.lock()
        defer { Self.active.unlock() }
        guard !Self.installed else { throw .signal(number: signals.first ?? 0, message: "another signal watcher is active") }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .signal(number: signals.first ?? 0, message: "pipe: \(ServeError.errnoText(errno))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        pipeEnds = (fds[0], fds[1])
        signalPipeWriteEnd = fds[1]
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signo in
                var byte = UInt8(truncatingIfNeeded: signo)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            var old = sigaction()
            guard sigaction(number, &action, &old) == 0 else {
                let text = ServeError.errnoText(errno)
                restore()
                throw .signal(number: number, message: text)
            }
            previous.append((number, old))
        }
        // A parent may have started us with these signals blocked (the mask is inherited across
        // exec): unblock them in this thread, and so in every thread it starts from now on.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        Self.installed = true
        running = true
        let readEnd = fds[0]
        let stop = self.stop, done = self.done
        let thread = Thread {
            defer { done.signal() }
            var byte: UInt8 = 0
            while !stop.isSet {
                var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                while read(readEnd, &byte, 1) == 1 { handler(Int32(byte)) }
            }
        }
        thread.name = "kvv-signals"
        thread.start()
    }

    /// Stops watching, restores each signal's previous disposition, closes the pipe.
    public func cancel() {
        Self.active.lock()
        defer { Self.active.unlock() }
        guard running else { return }
        running = false
        restore()
        stop.signal()
        done.wait(timeout: 2)
        close(pipeEnds.read)
        Self.installed = false
    }

    private func restore() {
        for (number, var old) in previous { sigaction(number, &old, nil) }
        previous = []
        signalPipeWriteEnd = -1
        if pipeEnds.write >= 0 { close(pipeEnds.write) }
        if !running, pipeEnds.read >= 0, !Self.installed { close(pipeEnds.read) }
        pipeEnds.write = -1
    }

    deinit { cancel() }
}
