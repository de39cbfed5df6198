#!/usr/bin/env python3
"""Scores `kvvision track` (the shipped Swift pipeline: model, tracker, windows) on ShapesWorld seeds.

    python3 tools/eval/score_track.py --model models/shapesworld-v1.safetensors \
        --preset standard --seeds 9001-9010 --out out/score-standard [--track-arg=--precision=int8] \
        [--min-visibility 0.5]

For each seed: `kvvision synth` renders the clip (10 s, or --seconds), `kvvision track` runs the
model on its video, `kvvision eval --json` scores the JSON Lines against the clip's ground truth
(visible boxes; actions from labels.json). Prints one line per seed and a summary over all seeds
(MOTA and IDF1 pooled over every ground-truth box, ID switches per 1000 boxes, mean detection
AP50 of the reported objects, action accuracy over matched objects, also without the 0.3 s after
each action change, the pooled action confusion matrix) as JSON; with --min-visibility V, a second
summary scored with `kvvision eval --min-visibility V`. Standard library
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


def summarise(reports):
    """Pooled figures over clips: MOTA/IDF1 over every ground-truth box, IDSW per 1000 boxes, mean
    AP50, action accuracy (all, and settled) and the summed action confusion matrix."""
    tr = lambda k: sum(r["tracking"][k] for r in reports)  # noqa: E731
    gt, idtp, preds = tr("objects"), tr("idtp"), tr("predictions")

    def pooled(key):
        mats = [r[key] for r in reports if r.get(key)]
        matched = sum(x["matched"] for x in mats)
        correct = sum(x["accuracy"] * x["matched"] for x in mats if x["accuracy"] is not None)
        confusion = None
        if mats:
            confusion = [[sum(m["confusion"][i][j] for m in mats) for j in range(len(mats[0]["confusion"][0]))]
                         for i in range(len(mats[0]["confusion"]))]
        return (correct / matched if matched else None), matched, confusion, (mats[0]["labels"] if mats else None)

    act, act_n, confusion, labels = pooled("actions")
    settled, settled_n, _, _ = pooled("actions_settled")
    cls, cls_n, _, _ = pooled("classes")
    ap = [r["detection"]["ap50"] or 0 for r in reports]
    return {"gt_boxes": gt, "mota": 1 - (tr("misses") + tr("switches") + tr("false_positives")) / gt,
            "idf1": 2 * idtp / (gt + preds), "idsw": tr("switches"), "idsw_per_1000": 1000 * tr("switches") / gt,
            "fp": tr("false_positives"), "fn": tr("misses"), "ap50_mean": sum(ap) / len(ap),
            "action_accuracy": act, "action_matched": act_n, "action_accuracy_settled": settled,
            "action_matched_settled": settled_n, "class_accuracy": cls, "action_labels": labels,
            "action_confusion": confusion}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model file (default: the installed default model)")
    p.add_argument("--preset", default="standard")
    p.add_argument("--seeds", default="8001-8010", help="e.g. 9001-9010 or 8001,8003")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True)
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--track-arg", action="append", default=[], help="extra `track` argument (repeatable; use --track-arg=--x=y)")
    p.add_argument("--min-visibility", type=float, default=None,
                   help="also score with `kvvision eval --min-visibility V` (a second summary)")
    a = p.parse_args()
    visibilities = [None] + ([a.min_visibility] if a.min_visibility is not None else [])
    reports, seconds, frames = {v: [] for v in visibilities}, 0.0, 0
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
        for v in visibilities:
            rep = json.loads(run([a.kvvision, "eval", "--gt", d, "--pred", pred, "--json"]
                                 + ([] if v is None else ["--min-visibility", str(v)])))
            reports[v].append(rep)
        rep = reports[None][-1]
        frames += rep["tracking"].get("frames", 0) or 0
        t, act = rep["tracking"], rep.get("actions") or {}
        print(json.dumps({"seed": s, "mota": t["mota"], "idf1": t["idf1"], "idsw": t["switches"],
                          "ap50": rep["detection"]["ap50"], "action": act.get("accuracy")}), file=sys.stderr, flush=True)
    out = {"preset": a.preset, "seeds": seeds(a.seeds), "clips": len(reports[None]), **summarise(reports[None]),
           "track_seconds": round(seconds, 1), "track_args": a.track_arg}
    if a.min_visibility is not None:
        out["min_visibility"] = {"value": a.min_visibility, **summarise(reports[a.min_visibility])}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
