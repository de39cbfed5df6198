#!/usr/bin/python3
"""Soak test of `kvvision serve` on loopback RTSP cameras (stdlib only).

Starts 2 cameras (Tests/KVVisionTests/Fixtures/rtsp/rtsp_server.py, GStreamer's RTSP server; run
by Debian's /usr/bin/python3 with python3-gi, as `tools/dev deps` installs), runs `kvvision serve`
on them for --minutes, kills camera 2's server (SIGKILL) every --restart-every seconds and starts
it again on the same port --down-for seconds later, samples the daemon's RSS (/proc) and
/healthz every --sample-every seconds, then stops it with SIGTERM and checks:

  rss        flat: every sample after --warmup within +-5 % of their median
  reconnect  every outage ends with a reconnect (a `gap` record and a `connected` log line)
             within its bound: backoff max + open_timeout after the camera listens again
  ids        no ID reused: in each output a new ID is always above every ID seen before
  lines      every line of every output is complete JSON with a known record type; frame
             numbers and positions strictly increase; the last record is `end`
  http       /healthz answered at every sample, outages included
  exit       SIGTERM -> exit 0 within 2 s

Prints one summary (figures and PASS/FAIL per check); exit status 0 when all pass.

  nice -n 5 tools/bench/serve_soak.py --minutes 30
  tools/bench/serve_soak.py --minutes 3 --restart-every 50 --warmup 40 --binary .build/debug/kvvision
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CAMERA = os.path.join(ROOT, "Tests/KVVisionTests/Fixtures/rtsp/rtsp_server.py")
GOLDEN = os.path.join(ROOT, "Tests/KVVisionTests/Fixtures/model/golden-model.safetensors")
DEFAULT_MODEL = os.path.join(ROOT, "models/shapesworld-v1.safetensors")
BACKOFF = {"initial": 0.5, "max": 4, "multiplier": 2, "jitter": 0.2}
OPEN_TIMEOUT = 5


class Camera:
    """One RTSP server process; `start(port)` waits for its `PORT n` line (20 s at most)."""

    def __init__(self, lifetime):
        self.lifetime = lifetime
        self.proc = None
        self.port = 0

    def start(self, port=0):
        self.proc = subprocess.Popen(["/usr/bin/python3", CAMERA, "--port", str(port), "--lifetime", str(self.lifetime)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 20
        result = {}

        def read():
            for line in self.proc.stdout:
                if line.startswith("PORT "):
                    result["port"] = int(line.split()[1])
                    return
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(max(0, deadline - time.monotonic()))
        if "port" not in result:
            self.kill()
            raise SystemExit(f"camera did not start on port {port}")
        self.port = result["port"]
        return time.monotonic()

    @property
    def url(self):
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def check_output(path):
    """(problems, stats) of one JSON Lines output."""
    problems, frames, gaps, ids_seen, max_id, types = [], 0, 0, set(), 0, []
    last_frame = last_position = None
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        problems.append("ends in a partial line")
    for n, raw in enumerate(data.split(b"\n")[:-1], 1):
        try:
            r = json.loads(raw)
        except ValueError:
            problems.append(f"line {n}: not JSON")
            continue
        t = r.get("type")
        types.append(t)
        if t not in ("stream", "frame", "gap", "end"):
            problems.append(f"line {n}: unknown type {t!r}")
        if t == "gap":
            gaps += 1
        if t != "frame":
            continue
        frames += 1
        if last_frame is not None and not (r["frame"] > last_frame and r["position"] > last_position):
            problems.append(f"line {n}: frame/position do not increase")
        last_frame, last_position = r["frame"], r["position"]
        for o in r["objects"]:
            i = o["id"]
            if i not in ids_seen:
                if i <= max_id:
                    problems.append(f"line {n}: new ID {i} is not above {max_id} (reused)")
                ids_seen.add(i)
                max_id = max(max_id, i)
    if not types or types[-1] != "end":
        problems.append("last record is not `end`")
    return problems, {"lines": len(types), "frames": frames, "gaps": gaps, "ids": len(ids_seen), "max_id": max_id}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--restart-every", type=float, default=120, help="seconds between kills of camera 2")
    ap.add_argument("--down-for", type=float, default=10, help="seconds camera 2 stays down")
    ap.add_argument("--sample-every", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=120, help="seconds of RSS samples left out of the flatness check")
    ap.add_argument("--binary", default=None, help="default: .build/release/kvvision, else .build/debug/kvvision")
    ap.add_argument("--model", default=None, help="default: models/shapesworld-v1.safetensors, else the tiny test model")
    ap.add_argument("--keep", action="store_true", help="keep the output directory")
    args = ap.parse_args()

    binary = args.binary or next((p for p in (os.path.join(ROOT, ".build/release/kvvision"), os.path.join(ROOT, ".build/debug/kvvision"))
                                  if os.path.exists(p)), None)
    if not binary:
        raise SystemExit("no kvvision binary: swift build -c release (or pass --binary)")
    model = args.model or (DEFAULT_MODEL if os.path.exists(DEFAULT_MODEL) else GOLDEN)
    duration = args.minutes * 60
    work = tempfile.mkdtemp(prefix="kvvision-soak-")
    cameras = [Camera(duration + 120), Camera(duration + 120)]
    serve = None
    try:
        for c in cameras:
            c.start()
        streams = [{"name": f"cam{i + 1}", "url": c.url, "open_timeout": OPEN_TIMEOUT, "read_timeout": 5, "watchdog": 5,
                    "backoff": BACKOFF} for i, c in enumerate(cameras)]
        config = os.path.join(work, "serve.json")
        with open(config, "w") as f:
            json.dump({"model": model, "http": "127.0.0.1:0", "output_dir": work, "streams": streams}, f)

        log, log_lock = [], threading.Lock()
        t0 = time.monotonic()
        serve = subprocess.Popen([binary, "serve", "--config", config], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)

        def read_log():
            for line in serve.stderr:
                with log_lock:
                    log.append((time.monotonic(), line.rstrip("\n")))
        threading.Thread(target=read_log, daemon=True).start()

        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and serve.poll() is None:
            with log_lock:
                for _, line in log:
                    if "listening on http://127.0.0.1:" in line:
                        port = int(line.split("127.0.0.1:")[1].split("/")[0])
            time.sleep(0.1)
        if port is None:
            raise SystemExit("serve did not start:\n" + "\n".join(l for _, l in log))

        samples, http_ok, http_total, restarts = [], 0, 0, []
        next_sample, next_kill, killed = t0, t0 + args.restart_every, None
        while time.monotonic() - t0 < duration and serve.poll() is None:
            now = time.monotonic()
            if killed is None and now >= next_kill:
                cameras[1].kill()
                killed = time.monotonic()
                next_kill = killed + args.restart_every
            elif killed is not None and now >= killed + args.down_for:
                back = cameras[1].start(cameras[1].port)
                restarts.append((killed, back))
                killed = None
            if now >= next_sample:
                samples.append((now - t0, rss_bytes(serve.pid)))
                http_total += 1
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                        http_ok += r.status == 200
                except OSError:
                    pass
                next_sample += args.sample_every
            time.sleep(0.2)

        serve.send_signal(signal.SIGTERM)
        term = time.monotonic()
        try:
            code = serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            code = "killed after 30 s"
        stop_seconds = time.monotonic() - term
        time.sleep(0.2)
        with log_lock:
            lines = list(log)

        results = []
        # RSS
        steady = [r for t, r in samples if t >= args.warmup]
        if len(steady) >= 2:
            med = statistics.median(steady)
            spread = (min(steady) / med - 1, max(steady) / med - 1)
            ok = -0.05 <= spread[0] and spread[1] <= 0.05
            results.append(("rss", ok, f"{len(steady)} samples after {args.warmup:.0f} s: median {med / 2**20:.1f} MiB, "
                                       f"min {spread[0] * 100:+.1f} %, max {spread[1] * 100:+.1f} %; "
                                       f"first {steady[0] / 2**20:.1f} MiB, last {steady[-1] / 2**20:.1f} MiB"))
        else:
            results.append(("rss", False, f"only {len(steady)} samples after the warm-up"))
        # Reconnects of camera 2
        bound = BACKOFF["max"] + OPEN_TIMEOUT
        connects = [t for t, l in lines if "stream cam2: connected (connection" in l]
        delays, missing = [], 0
        for killed, back in restarts:
            after = [t for t in connects if t > killed]
            if after:
                delays.append(after[0] - back)
            else:
                missing += 1
        # Outputs
        problems, stats = {}, {}
        for name in ("cam1", "cam2"):
            p, s = check_output(os.path.join(work, f"{name}.jsonl"))
            problems[name], stats[name] = p, s
        gaps = stats["cam2"]["gaps"]
        ok = missing == 0 and all(d <= bound for d in delays) and gaps == len(restarts)
        results.append(("reconnect", ok, f"{len(restarts)} outages of {args.down_for:.0f} s, {gaps} gap records, "
                                         f"reconnect {max(delays, default=0):.2f} s at most after the camera was back "
                                         f"(bound {bound:.0f} s), {missing} without reconnect"))
        reused = [x for n in problems for x in problems[n] if "reused" in x]
        results.append(("ids", not reused, "; ".join(f"{n}: {stats[n]['ids']} IDs (max {stats[n]['max_id']})" for n in stats)
                        + (f"; {reused[:3]}" if reused else "")))
        other = [f"{n}: {x}" for n in problems for x in problems[n] if "reused" not in x]
        results.append(("lines", not other, "; ".join(f"{n}: {stats[n]['lines']} lines, {stats[n]['frames']} frames" for n in stats)
                        + (f"; {other[:3]}" if other else "")))
        results.append(("http", http_ok == http_total and http_total > 0, f"/healthz {http_ok}/{http_total}"))
        results.append(("exit", code == 0 and stop_seconds <= 2, f"SIGTERM -> exit {code} after {stop_seconds:.2f} s (bound 2 s)"))

        ends = {}
        for name in ("cam1", "cam2"):
            with open(os.path.join(work, f"{name}.jsonl")) as f:
                last = f.read().rstrip("\n").rsplit("\n", 1)[-1]
            try:
                ends[name] = json.loads(last)
            except ValueError:
                ends[name] = {}
        print(f"kvvision serve soak: {args.minutes:g} min, 2 cameras (320x240 H.264 25 fps, loopback RTSP/TCP), "
              f"camera 2 killed every {args.restart_every:g} s for {args.down_for:g} s")
        print(f"binary {binary}; model {model}")
        for name, e in ends.items():
            print(f"  {name}: decoded {e.get('frames_decoded')}, analysed {e.get('frames_analysed')}, "
                  f"not analysed (rate/drops/stop) {e.get('frames_skipped')}, tracks {e.get('tracks')}")
        print("  RSS samples (s, MiB): " + " ".join(f"{t:.0f}:{r / 2**20:.1f}" for t, r in samples))
        for name, ok, text in results:
            print(f"  {'PASS' if ok else 'FAIL'} {name:9} {text}")
        passed = all(ok for _, ok, _ in results)
        print("PASS" if passed else "FAIL")
        if not passed or args.keep:
            print(f"outputs and config kept in {work}")
            with open(os.path.join(work, "serve.log"), "w") as f:
                f.write("\n".join(f"{t - t0:9.3f} {l}" for t, l in lines) + "\n")
        return 0 if passed else 1
    finally:
        if serve and serve.poll() is None:
            serve.kill()
        for c in cameras:
            c.kill()
        if not args.keep and os.path.isdir(work) and not os.path.exists(os.path.join(work, "serve.log")):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
