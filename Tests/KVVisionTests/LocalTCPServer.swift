import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 for network-source tests. Without a payload it accepts connections
/// and never sends a byte (a camera or web server that stopped answering); with one it sends the
/// payload to each connection and closes it (a live source that goes away); with `stallAfter` it
/// sends only that many bytes and then keeps the connection open in silence. Also hands out a port
/// that is certainly closed.
///
/// Thread-safety: accepted sockets are tracked under a lock; `stop()` (or deinit) closes them and
/// wakes the accept thread, which closes the listener.
final class LocalTCPServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let payload: [UInt8]?
    private let stallAfter: Int?
    private let lock = NSLock()
    private var accepted: [Int32] = []
    private var stopped = false
    private var listenerOpen = true

    init(payload: [UInt8]? = nil, stallAfter: Int? = nil) throws {
        self.payload = payload
        self.stallAfter = stallAfter
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        listener = fd
        port = Self.localPort(fd)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// A port on 127.0.0.1 with nothing listening (bound, read, closed again).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let port = localPort(fd)
        close(fd)
        return port
    }

    private static func localPort(_ fd: Int32) -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The accept thread owns the listener and is the only one to close it: a listener closed
    /// by `stop()` while this loop was about to call `accept` again let the descriptor number be
    /// reused by another test's socket in the same process, whose connection this loop then
    /// accepted and closed (seen as "Invalid data found" in a parallel run).
    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            let err = errno
            lock.lock()
            defer { lock.unlock() }
            if stopped || (c < 0 && err != EINTR) {
                if c >= 0 { close(c) }
                close(listener)
                listenerOpen = false
                return
            }
            guard c >= 0 else { continue }
            if let payload {
                let limit = min(payload.count, stallAfter ?? payload.count)
                var sent = 0
                while sent < limit {
                    let n = payload.withUnsafeBytes { send(c, $0.baseAddress! + sent, limit - sent, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    sent += n
                }
                if stallAfter == nil { close(c) } else { accepted.append(c) }
            } else {
                accepted.append(c)
            }
        }
    }

    /// Closes every accepted connection and wakes the accept thread (which closes the listener).
    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let open = accepted
        accepted = []
        if !wasStopped && listenerOpen { shutdown(listener, Int32(SHUT_RDWR)) }
        lock.unlock()
        guard !wasStopped else { return }
        for c in open { close(c) }
    }

    deinit { stop() }
}
