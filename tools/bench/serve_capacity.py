#!/usr/bin/python3
"""Capacity of `kvvision serve`: how many 320x240 @ 25 fps cameras one machine analyses in real time.

One loopback camera (Tests/KVVisionTests/Fixtures/rtsp/rtsp_server.py: GStreamer's RTSP server,
videotestsrc encoded to H.264 once and shared by every client, so the camera's own encoding cost
does not grow with N) and `kvvision serve` with N streams reading it, for each analysis rate
(`--every`, default 1 and 2) and N = 1, 2, ... up to --max-streams or the first N that does not
keep up. Each configuration waits until every stream is connected (at most 60 s), runs --warmup
seconds, then is measured for --seconds from two
/metrics scrapes:

  analysed fps   frames analysed per second per stream (the camera gives 25/every)
  dropped        frames dropped from the full queue / frames read (analysis fell behind)
  p50, p99       kvvision_stream_analysis_latency_seconds over all streams: from a decoded frame
                 entering the stream's queue to its records written and flushed; read from the
                 histogram's buckets with linear interpolation inside a bucket (as Prometheus'
                 histogram_quantile), so good to about one bucket width (10-25 ms up to 150 ms)
  bound          docs/serve.md's latency bound (C - 1)*min(1/F, A) + 2A with C = 4, F = 25/every and
                 A the p99 analysis time of the row (kvvision_stream_analysis_seconds)
  RSS            process_resident_memory_bytes at the end of the measurement

A configuration is real time when every stream analyses >= 97 % of 25/every frames/s and drops
< 1 % of the frames it read. Memory per stream is the slope of RSS over N (least squares).

  nice -n 0 tools/bench/serve_capacity.py --model models/shapesworld-v1.safetensors
  tools/bench/serve_capacity.py --every 2 --max-streams 3 --threads 1 --precision int8

Stdlib only; run by Debian's /usr/bin/python3 (python3-gi for the camera, as `tools/dev deps`
installs). Prints a Markdown table and, with --json FILE, writes the figures.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_soak import DEFAULT_MODEL, ROOT, Camera  # noqa: E402

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    """/metrics as {(name, frozenset(labels)): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if m:
            out[(m.group(1), frozenset(LABEL.findall(m.group(2) or "")))] = float(m.group(3))
    return out


def per_stream(metrics, name):
    """{stream: value} of one per-stream series."""
    return {dict(k[1])["stream"]: v for k, v in metrics.items() if k[0] == name and "le" not in dict(k[1])}


def buckets(metrics, name):
    """Cumulative counts summed over streams: [(upper bound, count)] ascending, +Inf last."""
    total = {}
    for (n, labels), v in metrics.items():
        if n == name + "_bucket":
            le = dict(labels)["le"]
            b = float("inf") if le == "+Inf" else float(le)
            total[b] = total.get(b, 0) + v
    return sorted(total.items())


def quantile(q, start, end):
    """histogram_quantile over the difference of two cumulative bucket lists."""
    diff = [(b, c1 - c0) for (b, c1), (_, c0) in zip(end, start)]
    count = diff[-1][1] if diff else 0
    if count <= 0:
        return float("nan")
    rank, lower, below = q * count, 0.0, 0.0
    for bound, cum in diff:
        if cum >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cum - below, 1e-12)
        lower, below = bound, cum
    return lower


def run_config(binary, model, url, n, every, threads, precision, warmup, seconds, work):
    streams = [{"name": f"cam{i + 1}", "url": url, "every": every, "threads": threads, "queue_frames": 4,
                "open_timeout": 10, "read_timeout": 10, "watchdog": 15} for i in range(n)]
    config = os.path.join(work, f"serve-{n}-{every}.json")
    with open(config, "w") as f:
        json.dump({"model": model, "precision": precision, "http": "127.0.0.1:0",
                   "output_dir": os.path.join(work, f"out-{n}-{every}"), "streams": streams}, f)
    os.makedirs(os.path.join(work, f"out-{n}-{every}"), exist_ok=True)
    serve = subprocess.Popen([binary, "serve", "--config", config], stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True)
    log, port = [], None

    def read_log():
        for line in serve.stderr:
            log.append(line.rstrip("\n"))
    threading.Thread(target=read_log, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and serve.poll() is None:
            for line in list(log):
                if "listening on http://127.0.0.1:" in line:
                    port = int(line.split("127.0.0.1:")[1].split("/")[0])
            time.sleep(0.1)
        if port is None:
            raise SystemExit("serve did not start:\n" + "\n".join(log))
        # every stream connected (kvvision_stream_up 1) before the warm-up starts, 60 s at most:
        # a camera whose shared media is still being prepared can refuse the first connections
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            up = per_stream(scrape(port), "kvvision_stream_up")
            if len(up) == n and all(v == 1 for v in up.values()):
                break
            time.sleep(0.5)
        time.sleep(warmup)
        m0, t0 = scrape(port), time.monotonic()
        time.sleep(seconds)
        m1, t1 = scrape(port), time.monotonic()
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(10)
    dt = t1 - t0
    read0, read1 = per_stream(m0, "kvvision_stream_frames_read_total"), per_stream(m1, "kvvision_stream_frames_read_total")
    an0, an1 = per_stream(m0, "kvvision_stream_frames_analysed_total"), per_stream(m1, "kvvision_stream_frames_analysed_total")
    dr0, dr1 = per_stream(m0, "kvvision_stream_frames_dropped_total"), per_stream(m1, "kvvision_stream_frames_dropped_total")
    names = sorted(read1)
    read = {s: read1[s] - read0.get(s, 0) for s in names}
    analysed = {s: (an1[s] - an0.get(s, 0)) / dt for s in names}
    dropped = {s: dr1[s] - dr0.get(s, 0) for s in names}
    lat0 = buckets(m0, "kvvision_stream_analysis_latency_seconds")
    lat1 = buckets(m1, "kvvision_stream_analysis_latency_seconds")
    an_s0 = buckets(m0, "kvvision_stream_analysis_seconds")
    an_s1 = buckets(m1, "kvvision_stream_analysis_seconds")
    rss = next(v for k, v in m1.items() if k[0] == "process_resident_memory_bytes")
    target = 25.0 / every
    # docs/serve.md's bound L <= (C - 1) * min(1/F, A) + 2A, with A the p99 analysis time and F the
    # rate frames enter the queue (25/every)
    a_p99 = quantile(0.99, an_s0, an_s1)
    bound = 3 * min(every / 25.0, a_p99) + 2 * a_p99
    drop_frac = sum(dropped.values()) / max(1, sum(read.values()))
    realtime = len(names) == n and all(analysed[s] >= 0.97 * target for s in names) and drop_frac < 0.01
    return {"streams": n, "every": every, "threads_per_stream": threads, "precision": precision,
            "seconds": round(dt, 1), "read_fps_min": round(min(read[s] / dt for s in names), 2),
            "analysed_fps_min": round(min(analysed.values()), 2), "analysed_fps_mean": round(sum(analysed.values()) / n, 2),
            "target_fps": target, "dropped_fraction": round(drop_frac, 4),
            "latency_p50_ms": round(1000 * quantile(0.5, lat0, lat1), 1),
            "latency_p99_ms": round(1000 * quantile(0.99, lat0, lat1), 1),
            "analysis_p50_ms": round(1000 * quantile(0.5, an_s0, an_s1), 1),
            "analysis_p99_ms": round(1000 * quantile(0.99, an_s0, an_s1), 1),
            "latency_bound_ms": round(1000 * bound, 1),
            "rss_mib": round(rss / 2 ** 20, 1), "realtime": realtime}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--every", default="1,2", help="analysis rates to measure (comma list)")
    ap.add_argument("--max-streams", type=int, default=6)
    ap.add_argument("--min-streams", type=int, default=1, help="first N (e.g. to measure one overloaded row)")
    ap.add_argument("--threads", type=int, default=1, help="analysis threads per stream")
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16", "int8"])
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/kvvision"))
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        raise SystemExit(f"no kvvision binary at {args.binary}: swift build -c release --product kvvision")
    work = tempfile.mkdtemp(prefix="kvvision-capacity-")
    camera = Camera(lifetime=24 * 3600)
    rows = []
    try:
        camera.start()
        for every in [int(e) for e in args.every.split(",")]:
            for n in range(args.min_streams, args.max_streams + 1):
                r = run_config(args.binary, args.model, camera.url, n, every, args.threads, args.precision,
                               args.warmup, args.seconds, work)
                rows.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
                if not r["realtime"]:
                    break
    finally:
        camera.kill()
        shutil.rmtree(work, ignore_errors=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"kvvision serve capacity: {os.cpu_count()} CPUs ({cpu}); model {os.path.relpath(args.model, ROOT)}; "
          f"{args.threads} analysis thread(s) per stream; precision {args.precision}; "
          f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row")
    print("| every | streams | analysed fps / stream (min, target) | dropped | latency p50 | latency p99 | bound | analysis p50 | RSS | real time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['every']} | {r['streams']} | {r['analysed_fps_min']:.1f} / {r['target_fps']:g} | "
              f"{100 * r['dropped_fraction']:.1f} % | {r['latency_p50_ms']:.0f} ms | {r['latency_p99_ms']:.0f} ms | {r['latency_bound_ms']:.0f} ms | "
              f"{r['analysis_p50_ms']:.0f} ms | {r['rss_mib']:.0f} MiB | {'yes' if r['realtime'] else 'no'} |")
    for every in sorted({r["every"] for r in rows}):
        ok = [r["streams"] for r in rows if r["every"] == every and r["realtime"]]
        pts = [(r["streams"], r["rss_mib"]) for r in rows if r["every"] == every]
        slope = float("nan")
        if len(pts) >= 2:
            mx = sum(p[0] for p in pts) / len(pts)
            my = sum(p[1] for p in pts) / len(pts)
            slope = sum((x - mx) * (y - my) for x, y in pts) / max(1e-9, sum((x - mx) ** 2 for x, _ in pts))
        print(f"every {every}: {max(ok, default=0)} stream(s) in real time; memory per stream {slope:.1f} MiB (RSS slope)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
