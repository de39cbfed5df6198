import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd about the daemon's life (`Type=notify`) without libsystemd: each state is one
/// datagram on the `AF_UNIX` socket named by `$NOTIFY_SOCKET` — a path (`/run/systemd/notify`) or
/// an abstract name (`@name`, sent with a leading NUL byte).
///
/// Messages: `READY=1` once the streams are started, `WATCHDOG=1` periodically while the main
/// loop is alive (at `watchdogInterval`: half of `$WATCHDOG_USEC`), `STOPPING=1` at shutdown,
/// `STATUS=…` free text. Without `$NOTIFY_SOCKET` (not run by systemd) `init` returns nil and
/// nothing is sent.
///
/// Thread-safety: immutable; `notify` may be called from any thread (one datagram per call).
public struct SystemdNotifier: Sendable {
    /// The socket as given (`/path` or `@abstract`).
    public let socketName: String
    /// How often to send `WATCHDOG=1` (half of `$WATCHDOG_USEC`), nil when systemd's watchdog is
    /// off or meant for another process (`$WATCHDOG_PID`).
    public let watchdogInterval: Double?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID` from `environment`; nil without a
    /// socket; throws `.notify` for a name that is not a path or an abstract name.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ServeError) {
        guard let name = environment["NOTIFY_SOCKET"], !name.isEmpty else { return nil }
        guard name.hasPrefix("/") || (name.hasPrefix("@") && name.utf8.count > 1) else {
            throw .notify(socket: name, message: "must be an absolute path or @abstract name")
        }
        guard name.utf8.count < 108, !name.contains("\0") else { throw .notify(socket: name, message: "longer than 107 bytes") }
        socketName = name
        var interval: Double?
        if let usec = environment["WATCHDOG_USEC"].flatMap({ UInt64($0) }), usec > 0 {
            let pid = environment["WATCHDOG_PID"].flatMap { Int32($0) }
            if pid == nil || pid == getpid() { interval = Double(usec) / 2e6 }
        }
        watchdogInterval = interval
    }

    public func ready() throws(ServeError) { try notify("READY=1") }
    public func watchdog() throws(ServeError) { try notify("WATCHDOG=1") }
    public func stopping() throws(ServeError) { try notify("STOPPING=1") }
    public func status(_ text: String) throws(ServeError) { try notify("STATUS=" + text.replacingOccurrences(of: "\n", with: " ")) }

    /// Sends `message` as one datagram.
    public func notify(_ message: String) throws(ServeError) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .notify(socket: socketName, message: "socket: \(ServeError.errnoText(errno))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketName.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { throw .notify(socket: socketName, message: "name too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        // Abstract names are exactly as long as given (no trailing NUL); paths end with one.
        let length = MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1)
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), sa, socklen_t(length))
            }
        }
        guard sent == bytes.count else { throw .notify(socket: socketName, message: "send: \(ServeError.errnoText(errno))") }
    }
}
