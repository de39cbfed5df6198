#!/usr/bin/env python3
"""Scores `kvvision track` (the shipped Swift pipeline: model, tracker, windows) on ShapesWorld seeds.

    python3 tools/eval/score_track.py --model models/shapesworld-v1.safetensors \
        --preset standard --seeds 9001-9010 --out out/score-standard [--track-arg=--precision=int8]

For each seed: `kvvision synth` renders the clip (10 s, or --seconds), `kvvision track` runs the
model on its video, `kvvision eval --json` scores the JSON Lines against the clip's ground truth
(visible boxes; actions from labels.json). Prints one line per seed and a summary over all seeds
(MOTA and IDF1 pooled over every ground-truth box, ID switches per 1000 boxes, mean detection
AP50 of the reported objects, action accuracy over matched objects) as JSON. Standard library
only; needs a release build (.build/release/kvvision). Seeds: tools/train/seeds.py (validation
8001-8020 for choices, test 9001-9010 for the model card only).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def seeds(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model file (default: the installed default model)")
    p.add_argument("--preset", default="standard")
    p.add_argument("--seeds", default="8001-8010", help="e.g. 9001-9010 or 8001,8003")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True)
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--track-arg", action="append", default=[], help="extra `track` argument (repeatable; use --track-arg=--x=y)")
    a = p.parse_args()
    reports, seconds, frames = [], 0.0, 0
    for s in seeds(a.seeds):
        d = os.path.join(a.out, f"{a.preset}-{s}")
        if not os.path.exists(os.path.join(d, "video.mp4")):
            run([a.kvvision, "synth", "--seed", str(s), "--preset", a.preset, "--duration", str(a.seconds), "--out", d])
        pred = os.path.join(d, "pred.jsonl")
        cmd = [a.kvvision, "track", os.path.join(d, "video.mp4"), "--out", pred, "--progress", "never"]
        if a.model:
            cmd += ["--model", a.model]
        cmd += [x for arg in a.track_arg for x in arg.split("=", 1)]
        t0 = time.time()
        run(cmd)
        seconds += time.time() - t0
        rep = json.loads(run([a.kvvision, "eval", "--gt", d, "--pred", pred, "--json"]))
        frames += rep["tracking"].get("frames", 0) or 0
        reports.append(rep)
        t, act = rep["tracking"], rep.get("actions") or {}
        print(json.dumps({"seed": s, "mota": t["mota"], "idf1": t["idf1"], "idsw": t["switches"],
                          "ap50": rep["detection"]["ap50"], "action": act.get("accuracy")}), file=sys.stderr, flush=True)
    tr = lambda k: sum(r["tracking"][k] for r in reports)  # noqa: E731
    gt, idtp, preds = tr("objects"), tr("idtp"), tr("predictions")
    acts = [r["actions"] for r in reports if r.get("actions")]
    matched = sum(x["matched"] for x in acts)
    correct = sum(x["accuracy"] * x["matched"] for x in acts if x["accuracy"] is not None)
    ap = [r["detection"]["ap50"] or 0 for r in reports]
    print(json.dumps({"preset": a.preset, "seeds": seeds(a.seeds), "clips": len(reports), "gt_boxes": gt,
                      "mota": 1 - (tr("misses") + tr("switches") + tr("false_positives")) / gt,
                      "idf1": 2 * idtp / (gt + preds), "idsw": tr("switches"), "idsw_per_1000": 1000 * tr("switches") / gt,
                      "fp": tr("false_positives"), "fn": tr("misses"), "ap50_mean": sum(ap) / len(ap),
                      "action_accuracy": correct / matched if matched else None,
                      "track_seconds": round(seconds, 1), "track_args": a.track_arg}, indent=1))


if __name__ == "__main__":
    main()
