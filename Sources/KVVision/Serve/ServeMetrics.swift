import Foundation

/// The daemon's metrics: per-stream families read from supervisor snapshots, and process
/// families (resident memory, start time, uptime), all collected at scrape time.
///
/// Per stream (label `stream`): `kvvision_stream_frames_read_total`, `_frames_analysed_total`,
/// `_frames_dropped_total` (queue full), `_frames_skipped_total` (fps rate),
/// `_connections_total`, `_reconnects_total`, `_open_failures_total`, `_losses_total{reason}`,
/// `_analysis_errors_total`, `_state{state}` (1 for the current state, 0 for the others),
/// `_up` (1 while running), `_queue_depth`, `_tracks` (alive), `_tracks_started_total`,
/// `_last_frame_timestamp_seconds`, `_analysis_latency_seconds` (histogram: frame queued →
/// analysed) and `_analysis_seconds` (histogram: analysis alone). Process: `process_resident_memory_bytes`,
/// `process_start_time_seconds`, `kvvision_uptime_seconds`, `kvvision_build_info{version}`.
///
/// Thread-safety: stateless apart from the start times; collectors run on HTTP threads.
public enum ServeMetrics {
    /// Registers the per-stream families of `streams` (a snapshot provider) on `registry`.
    public static func register(streams: @escaping @Sendable () -> [StreamStatus], on registry: MetricsRegistry) {
        registry.register { families(for: streams()) }
    }

    /// Registers the process families; `clock` gives uptime from `startNow` (monotonic) and the
    /// start time from `startWall` (Unix).
    public static func registerProcess(on registry: MetricsRegistry, clock: any ServeClock = SystemClock()) {
        let startNow = clock.now(), startWall = clock.wallTime()
        registry.register {
            var out = [
                MetricFamily(name: "kvvision_build_info", help: "kvvision version (value 1).", kind: .gauge,
                             samples: [.init([("version", KVVisionInfo.version)], 1)]),
                MetricFamily(name: "kvvision_uptime_seconds", help: "Seconds since the daemon started.", kind: .gauge,
                             samples: [.init([], clock.now() - startNow)]),
                MetricFamily(name: "process_start_time_seconds", help: "Start time of the process since the Unix epoch in seconds.",
                             kind: .gauge, samples: [.init([], startWall.rounded())]),
            ]
            if let rss = ProcessMemory.residentBytes {
                out.append(MetricFamily(name: "process_resident_memory_bytes", help: "Resident memory size in bytes.", kind: .gauge,
                                        samples: [.init([], Double(rss))]))
            }
            return out
        }
    }

    /// The per-stream families of these snapshots.
    public static func families(for statuses: [StreamStatus]) -> [MetricFamily] {
        func counter(_ name: String, _ help: String, _ value: (StreamStatus) -> Int) -> MetricFamily {
            MetricFamily(name: "kvvision_stream_\(name)", help: help, kind: .counter,
                         samples: statuses.map { .init([("stream", $0.name)], Double(value($0))) })
        }
        func gauge(_ name: String, _ help: String, _ value: (StreamStatus) -> Double?) -> MetricFamily {
            MetricFamily(name: "kvvision_stream_\(name)", help: help, kind: .gauge,
                         samples: statuses.compactMap { s in value(s).map { .init([("stream", s.name)], $0) } })
        }
        var families = [
            counter("frames_read_total", "Frames decoded and read from the source.") { $0.counters.framesRead },
            counter("frames_analysed_total", "Frames analysed.") { $0.counters.framesAnalysed },
            counter("frames_dropped_total", "Frames dropped from the full queue because analysis fell behind.") { $0.counters.framesDropped },
            counter("frames_skipped_total", "Frames left out by the fps analysis rate.") { $0.counters.framesSkipped },
            counter("connections_total", "Source connections opened.") { $0.counters.connections },
            counter("reconnects_total", "Source connections opened after the first.") { $0.counters.reconnects },
            counter("open_failures_total", "Attempts to open the source that failed.") { $0.counters.openFailures },
            counter("analysis_errors_total", "Frames whose analysis or output failed.") { $0.counters.analysisErrors },
            counter("tracks_started_total", "Tracks started (IDs handed out).") { $0.counters.tracksStarted },
            gauge("up", "1 while the stream is running (connected and reading).") { $0.state == .running ? 1 : 0 },
            gauge("queue_depth", "Frames waiting for analysis.") { Double($0.queueDepth) },
            gauge("tracks", "Tracks alive after the last analysed frame.") { Double($0.counters.activeTracks) },
            gauge("last_frame_timestamp_seconds", "Unix time of the last frame read.") { $0.lastFrameWallTime },
        ]
        families.append(MetricFamily(
            name: "kvvision_stream_losses_total", help: "Source connections lost, by reason.", kind: .counter,
            samples: statuses.flatMap { s in GapReason.allCases.map { .init([("stream", s.name), ("reason", $0.rawValue)], Double(s.counters.losses[$0] ?? 0)) } }))
        families.append(MetricFamily(
            name: "kvvision_stream_state", help: "Current supervisor state (1 for the current state).", kind: .gauge,
            samples: statuses.flatMap { s in StreamState.allCases.map { .init([("stream", s.name), ("state", $0.rawValue)], s.state == $0 ? 1 : 0) } }))
        families.append(MetricFamily(
            name: "kvvision_stream_analysis_latency_seconds", help: "Seconds from a frame entering the queue to its analysis finished.",
            kind: .histogram, histograms: statuses.map { ([("stream", $0.name)], $0.latency) }))
        families.append(MetricFamily(
            name: "kvvision_stream_analysis_seconds", help: "Seconds of analysis per frame.",
            kind: .histogram, histograms: statuses.map { ([("stream", $0.name)], $0.analysisSeconds) }))
        return families
    }
}
