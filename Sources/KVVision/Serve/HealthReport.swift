import Foundation

/// The `/healthz` document: the daemon's uptime and each stream's state and last frame time.
///
/// `status` is `ok` when every stream is running, `degraded` when some stream is connecting,
/// in backoff or failed, `stopping` during shutdown. The HTTP status is 200 in all these cases
/// (the process is alive and answering); consumers read `status` and the streams.
///
/// Thread-safety: a value type, `Sendable`.
public struct HealthReport: Codable, Sendable, Equatable {
    public struct Stream: Codable, Sendable, Equatable {
        public var name: String
        public var state: StreamState
        public var connection: Int
        /// ISO 8601 UTC time of the last frame read, nil before the first.
        public var lastFrameTime: String?
        public var secondsSinceLastFrame: Double?
        public var framesAnalysed: Int
        public var framesDropped: Int
        public var reconnects: Int
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case name, state, connection, lastFrameTime = "last_frame_time", secondsSinceLastFrame = "seconds_since_last_frame"
            case framesAnalysed = "frames_analysed", framesDropped = "frames_dropped", reconnects, lastError = "last_error"
        }

        public func encode(to encoder: any Encoder) throws {  // nil as null: every key always present
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(state, forKey: .state)
            try c.encode(connection, forKey: .connection)
            try c.encode(lastFrameTime, forKey: .lastFrameTime)
            try c.encode(secondsSinceLastFrame, forKey: .secondsSinceLastFrame)
            try c.encode(framesAnalysed, forKey: .framesAnalysed)
            try c.encode(framesDropped, forKey: .framesDropped)
            try c.encode(reconnects, forKey: .reconnects)
            try c.encode(lastError, forKey: .lastError)
        }
    }

    public var status: String
    public var uptimeSeconds: Double
    public var streams: [Stream]

    enum CodingKeys: String, CodingKey { case status, uptimeSeconds = "uptime_seconds", streams }

    public init(statuses: [StreamStatus], uptime: Double, stopping: Bool = false) {
        streams = statuses.map { s in
            Stream(name: s.name, state: s.state, connection: s.connection,
                   lastFrameTime: s.lastFrameWallTime.map(Self.iso8601),
                   secondsSinceLastFrame: s.secondsSinceLastFrame.map { ($0 * 1000).rounded() / 1000 },
                   framesAnalysed: s.counters.framesAnalysed, framesDropped: s.counters.framesDropped,
                   reconnects: s.counters.reconnects, lastError: s.lastError)
        }
        uptimeSeconds = (uptime * 1000).rounded() / 1000
        if stopping {
            status = "stopping"
        } else {
            status = statuses.allSatisfy { $0.state == .running || $0.state == .finished } ? "ok" : "degraded"
        }
    }

    /// The JSON text (one line plus newline).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data("{\"status\":\"error\"}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func iso8601(_ unix: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: unix))
    }
}
