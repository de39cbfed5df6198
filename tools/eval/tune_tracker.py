#!/usr/bin/env python3
"""Chooses a model's tracker defaults on validation seeds by coordinate descent.

    python3 tools/eval/tune_tracker.py --model models/shapesworld-v1.safetensors \
        --seeds 8001-8010 --out out/tune [--grid high_threshold=0.3,0.4,0.5 ...] [--rounds 1]

Starts from the tracker block in the model's `kvvision.config` metadata; for each key of the grid
in turn, scores every listed value with the others held (`tools/eval/score_track.py`: `kvvision
track --tracker FILE` + `kvvision eval` on each seed) and keeps the best by MOTA + IDF1 (pooled
over the seeds' ground-truth boxes). Prints one JSON line per trial on stderr and the chosen
settings with their scores on stdout. Use validation seeds (tools/train/seeds.py: 8001-8020) only:
the test seeds are for the model card's final figures. Standard library only; needs a release
build (.build/release/kvvision).
"""

import argparse
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_GRID = [
    "high_threshold=0.3,0.4,0.5",
    "new_track_threshold=0.3,0.4,0.5,0.6",
    "low_threshold=0.05,0.1,0.2",
    "min_hits=1,2,3",
    "association_weight=0.3,0.5,0.7",
    "max_cost=0.7,0.8,0.9",
    "max_lost=75,150,250",
]


def model_tracker(path):
    """The `tracker` block of a safetensors file's `kvvision.config` metadata ({} when absent)."""
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
    meta = header.get("__metadata__") or {}
    return json.loads(meta["kvvision.config"]).get("tracker", {}) if "kvvision.config" in meta else {}


def value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--preset", default="standard")
    p.add_argument("--seeds", default="8001-8010")
    p.add_argument("--out", required=True, help="clips, predictions and trial settings")
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--grid", action="append", default=None, help="KEY=V1,V2,... (repeatable; default: a built-in grid)")
    p.add_argument("--rounds", type=int, default=1, help="passes over the grid")
    p.add_argument("--track-arg", action="append", default=[], help="extra `track` argument (--track-arg=--x=y)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    grid = [(k, [value(v) for v in vs.split(",")]) for k, _, vs in (g.partition("=") for g in (a.grid or DEFAULT_GRID))]
    best = dict(model_tracker(a.model))
    cache = {}

    def score(settings):
        key = json.dumps(settings, sort_keys=True)
        if key in cache:
            return cache[key]
        path = os.path.join(a.out, f"tracker-{len(cache)}.json")
        with open(path, "w") as fh:
            json.dump(settings, fh)
        cmd = [sys.executable, os.path.join(HERE, "score_track.py"), "--model", a.model, "--preset", a.preset,
               "--seeds", a.seeds, "--out", a.out, "--kvvision", a.kvvision, f"--track-arg=--tracker={path}"]
        cmd += [f"--track-arg={x}" for x in a.track_arg]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"score_track.py: exit {r.returncode}: {r.stderr.strip()[-400:]}")
        s = json.loads(r.stdout)
        cache[key] = s
        print(json.dumps({"settings": settings, "mota": round(s["mota"], 4), "idf1": round(s["idf1"], 4),
                          "idsw": s["idsw"], "fp": s["fp"], "fn": s["fn"], "ap50": round(s["ap50_mean"], 4)}),
              file=sys.stderr, flush=True)
        return s

    def objective(s):
        return s["mota"] + s["idf1"]

    current = score(best)
    for _ in range(a.rounds):
        for k, values in grid:
            for v in values:
                trial = {**best, k: v}
                s = score(trial)
                if objective(s) > objective(current) + 1e-9:
                    best, current = trial, s
    print(json.dumps({"tracker": best, "mota": current["mota"], "idf1": current["idf1"], "idsw": current["idsw"],
                      "fp": current["fp"], "fn": current["fn"], "ap50_mean": current["ap50_mean"],
                      "trials": len(cache)}, indent=1))


if __name__ == "__main__":
    main()
