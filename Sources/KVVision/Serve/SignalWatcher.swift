import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns process signals into calls on a queue: SIGTERM/SIGINT for an orderly stop, SIGHUP to
/// reopen outputs (log rotation). Built on `DispatchSource` signal sources: the signals' default
/// action is replaced by "ignore" while the watcher lives (so they no longer kill the process)
/// and the previous disposition is restored by `cancel()`.
///
/// Invariants: each delivered signal calls `handler` once on `queue` (signals of the same number
/// arriving together may coalesce into one call, as POSIX signals do).
///
/// Thread-safety: create and cancel from one thread; the handler runs on `queue`.
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

    public let signals: [Int32]
    private var sources: [any DispatchSourceSignal] = []
    private var previous: [(Int32, sigaction)] = []

    /// Starts watching `signals`; `handler` gets the signal number on `queue`.
    public init(signals: [Int32] = [SIGTERM, SIGINT, SIGHUP], queue: DispatchQueue = DispatchQueue(label: "kvvision.signals"),
                handler: @escaping @Sendable (Int32) -> Void) throws(ServeError) {
        self.signals = signals
        for number in signals {
            var ignore = sigaction()
            ignore.__sigaction_handler.sa_handler = SIG_IGN
            sigemptyset(&ignore.sa_mask)
            var old = sigaction()
            guard sigaction(number, &ignore, &old) == 0 else {
                cancel()
                throw .signal(number: number, message: ServeError.errnoText(errno))
            }
            previous.append((number, old))
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops watching and restores each signal's previous disposition.
    public func cancel() {
        for source in sources { source.cancel() }
        sources = []
        for (number, var old) in previous { sigaction(number, &old, nil) }
        previous = []
    }

    deinit { cancel() }
}
