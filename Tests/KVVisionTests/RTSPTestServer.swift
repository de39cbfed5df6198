import Foundation
import Synchronization
import Testing
@testable import KVVision
#if canImport(Glibc)
import Glibc
#endif

/// A live RTSP camera on 127.0.0.1 for tests: `Fixtures/rtsp/rtsp_server.py` (GStreamer's RTSP
/// server, H.264 320×240 at 25 fps) run by Debian's /usr/bin/python3, which has python3-gi
/// (`tools/dev test` installs the packages). Started on a free port (or a given one, to restart a
/// killed camera at the same URL), stopped by `kill`/`stop` or deinit; the script also exits by
/// itself after `lifetime` seconds, so a crashed test leaves nothing behind.
final class RTSPTestServer: @unchecked Sendable {
    static let python = "/usr/bin/python3"
    let port: Int
    let process: Process
    private let output = OutputBox()

    /// The server's stdout and stderr so far (filled by reader threads that do not retain the server).
    final class OutputBox: @unchecked Sendable {
        private let lock = NSLock()
        private var texts = (out: "", err: "")
        func withLock<T>(_ body: (inout (out: String, err: String)) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(&texts)
        }
    }

    var url: String { "rtsp://127.0.0.1:\(port)/cam" }

    /// Why the RTSP tests cannot run here, or nil when they can (checked once).
    static let unavailable: String? = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return "\(python) is missing" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('GstRtsp', '1.0'); "
                       + "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
                       + "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay')"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return "cannot run \(python): \(error)" }
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate(); return "\(python) gi check hung" }
        return p.terminationStatus == 0 ? nil
            : "GStreamer's RTSP server is not installed for \(python) (run tools/dev deps: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/-ugly)"
    }()

    /// Starts a server; waits up to 20 s for it to listen.
    /// `perClient`: every client gets a pipeline of its own, from frame 0 (so two clients see the same frames).
    init(port: Int = 0, transport: String = "any", stallAfter: Double? = nil, stallFor: Double? = nil, lifetime: Double = 90,
         perClient: Bool = false) throws {
        if let reason = Self.unavailable { throw ServerError(message: reason) }
        var args = [TestFiles.fixture("rtsp/rtsp_server.py").path, "--port", String(port), "--transport", transport,
                    "--lifetime", String(lifetime)]
        if perClient { args.append("--per-client") }
        if let stallAfter { args += ["--stall-after", String(stallAfter)] }
        if let stallFor { args += ["--stall-for", String(stallFor)] }
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        for (pipe, isOut) in [(out, true), (err, false)] {
            let handle = pipe.fileHandleForReading
            let output = self.output
            Thread {
                while true {
                    let data = handle.availableData
                    if data.isEmpty { return }
                    let text = String(decoding: data, as: UTF8.self)
                    output.withLock { if isOut { $0.out += text } else { $0.err += text } }
                }
            }.start()
        }
        var found: Int?
        let deadline = Date().addingTimeInterval(20)
        while found == nil && Date() < deadline && process.isRunning {
            let text = output.withLock { $0.out }
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }) { found = Int(line.dropFirst(5)) }
            else { usleep(10_000) }
        }
        guard let found else {
            let log = output.withLock { $0.err }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            throw ServerError(message: "RTSP test server did not start: \(log)")
        }
        self.port = found
    }

    /// True once the server printed `STALLED` (media stopped flowing).
    var stalled: Bool { output.withLock { $0.out.contains("STALLED") } }
    var log: String { output.withLock { "stdout: \($0.out)\nstderr: \($0.err)" } }

    /// Kills the server (SIGKILL: a camera that loses power) and waits up to 10 s for it to exit.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(5_000) }
    }

    deinit { kill() }

    struct ServerError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
