#!/usr/bin/env python3
"""kvvision's tracker against ByteTrack and OC-SORT (PyPI `trackers`) on the same boxes.

    tools/.venv/bin/pip install -r tools/bench/requirements-peers.txt
    tools/.venv/bin/python tools/bench/peer_trackers.py --model models/shapesworld-v1.safetensors \
        --preset standard --seeds 9001-9010 --out out/peers

For each seed: `kvvision synth` renders the clip, `kvvision detect` writes the model's raw
detections (every detection its head keeps, score >= det.min_score) as MOT det.txt, and three
trackers run on exactly those boxes:
  kvvision   `kvvision track` on the video (the model's own association and tracker; the same
             detections, as `detect` and `track` share the det head)
  bytetrack  trackers.ByteTrackTracker(frame_rate=25), fed det.txt per frame
  ocsort     trackers.OCSORTTracker(frame_rate=25), fed det.txt per frame
The peers' score thresholds are chosen for these detections, not left at their defaults (0.6-0.7,
made for detectors whose scores run higher than a CenterNet peak's): on --tune-seeds (validation
seeds, default 8001-8005) each peer runs with every value in --grid as its high-confidence threshold
(ByteTrack: also its track activation threshold) and keeps the one with the best pooled IDF1; the
test seeds then run with that value only. Each output is written as kvvision JSON Lines (a peer's tracks keep their detection's class) and
scored by `kvvision eval --json` against the clip's ground truth. Prints one line per seed and
tracker, then a JSON summary per tracker pooled over the seeds (MOTA, IDF1, IDSW, FP, FN).
"""

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker, OCSORTTracker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "eval"))
from score_track import run, seeds  # noqa: E402  (one seed-range parser and command runner)

CLASSES = ["circle", "square", "triangle", "cross"]


def read_det(path):
    frames = defaultdict(list)
    for line in open(path):
        f = line.strip().split(",")
        if len(f) < 8:
            continue
        x, y, w, h, s = map(float, f[2:7])
        frames[int(f[0]) - 1].append((x, y, w, h, s, CLASSES.index(f[7]) if f[7] in CLASSES else -1))
    return frames


def track_peer(tracker, frames, count):
    lines = []
    for t in range(count):
        rows = frames.get(t, [])
        if rows:
            a = np.array(rows, dtype=np.float64)
            xyxy = np.stack([a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]], 1)
            det = sv.Detections(xyxy=xyxy.astype(np.float32), confidence=a[:, 4].astype(np.float32), class_id=a[:, 5].astype(int))
        else:
            det = sv.Detections.empty()
        out = tracker.update(det)
        objects = []
        ids = out.tracker_id if out.tracker_id is not None else []
        for k in range(len(out)):
            tid = int(ids[k])  # 0-based in `trackers`; -1 for detections not (yet) in a track
            if tid < 0:
                continue
            x0, y0, x1, y1 = (float(v) for v in out.xyxy[k])
            c = int(out.class_id[k]) if out.class_id is not None else -1
            o = {"id": tid + 1, "score": round(float(out.confidence[k]), 4) if out.confidence is not None else 1.0,
                 "box": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)], "state": "confirmed"}
            if 0 <= c < len(CLASSES):
                o["class"] = CLASSES[c]
            objects.append(o)
        lines.append(json.dumps({"type": "frame", "v": 1, "frame": t, "objects": objects}))
    return "\n".join(lines) + "\n"


PEERS = {
    "bytetrack": lambda v: ByteTrackTracker(frame_rate=25.0, track_activation_threshold=v, high_conf_det_threshold=v),
    "ocsort": lambda v: OCSORTTracker(frame_rate=25.0, high_conf_det_threshold=v),
}


def prepare(a, s, model):
    """Renders seed s (once) and writes the model's raw detections; returns (dir, video, frames, count)."""
    d = os.path.join(a.out, f"{a.preset}-{s}")
    if not os.path.exists(os.path.join(d, "video.mp4")):
        run([a.kvvision, "synth", "--seed", str(s), "--preset", a.preset, "--duration", str(a.seconds), "--out", d])
    video = os.path.join(d, "video.mp4")
    det = os.path.join(d, "det.txt")
    run([a.kvvision, "detect", video, "--out", det, "--progress", "never"] + model)
    return d, video, read_det(det), int(round(a.seconds * 25))


def idf1_of(a, d, path):
    t = json.loads(run([a.kvvision, "eval", "--gt", d, "--pred", path, "--json"]))["tracking"]
    return t["idtp"], t["objects"] + t["predictions"]


def tune(a, model):
    """Each peer's threshold with the best pooled IDF1 on the tuning seeds."""
    clips = [prepare(a, s, model) for s in seeds(a.tune_seeds)]
    chosen = {}
    for name, make in PEERS.items():
        scores = {}
        for v in [float(x) for x in a.grid.split(",")]:
            idtp = total = 0
            for d, _, frames, count in clips:
                path = os.path.join(d, f"{name}-tune.jsonl")
                with open(path, "w") as fh:
                    fh.write(track_peer(make(v), frames, count))
                x, y = idf1_of(a, d, path)
                idtp, total = idtp + x, total + y
            scores[v] = 2 * idtp / total if total else 0
        chosen[name] = max(scores, key=lambda v: (scores[v], -v))
        print(json.dumps({"tune": name, "idf1_by_threshold": scores, "chosen": chosen[name]}), file=sys.stderr, flush=True)
    return chosen


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--preset", default="standard")
    p.add_argument("--seeds", default="8001-8005")
    p.add_argument("--tune-seeds", default="8001-8005", help="validation seeds for the peers' thresholds ('' = defaults)")
    p.add_argument("--grid", default="0.2,0.3,0.4,0.5,0.6", help="threshold values tried on the tuning seeds")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True)
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--track-arg", action="append", default=[], help="extra `kvvision track` argument (--track-arg=--x=y)")
    a = p.parse_args()
    model = ["--model", a.model] if a.model else []
    chosen = tune(a, model) if a.tune_seeds else {"bytetrack": None, "ocsort": None}
    totals = defaultdict(lambda: defaultdict(float))
    for s in seeds(a.seeds):
        d, video, frames, count = prepare(a, s, model)
        outputs = {"kvvision": os.path.join(d, "kvvision.jsonl")}
        run([a.kvvision, "track", video, "--out", outputs["kvvision"], "--progress", "never"] + model
            + [x for arg in a.track_arg for x in arg.split("=", 1)])
        for name, make in PEERS.items():
            tracker = make(chosen[name]) if chosen[name] is not None else \
                (ByteTrackTracker(frame_rate=25.0) if name == "bytetrack" else OCSORTTracker(frame_rate=25.0))
            outputs[name] = os.path.join(d, f"{name}.jsonl")
            with open(outputs[name], "w") as fh:
                fh.write(track_peer(tracker, frames, count))
        for name, path in outputs.items():
            rep = json.loads(run([a.kvvision, "eval", "--gt", d, "--pred", path, "--json"]))
            t = rep["tracking"]
            for k in ("objects", "idtp", "predictions", "misses", "switches", "false_positives"):
                totals[name][k] += t[k]
            print(json.dumps({"seed": s, "tracker": name, "mota": t["mota"], "idf1": t["idf1"], "idsw": t["switches"]}),
                  file=sys.stderr, flush=True)
    summary = {}
    for name, t in totals.items():
        gt = t["objects"]
        summary[name] = {"mota": 1 - (t["misses"] + t["switches"] + t["false_positives"]) / gt,
                         "idf1": 2 * t["idtp"] / (gt + t["predictions"]), "idsw": int(t["switches"]),
                         "fp": int(t["false_positives"]), "fn": int(t["misses"]), "gt_boxes": int(gt)}
    print(json.dumps({"preset": a.preset, "seeds": seeds(a.seeds), "peer_thresholds": chosen,
                      "tune_seeds": seeds(a.tune_seeds) if a.tune_seeds else [], "track_args": a.track_arg,
                      "trackers": summary}, indent=1))


if __name__ == "__main__":
    main()
