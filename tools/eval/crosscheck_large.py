#!/usr/bin/env python3
"""Large cross-check of `kvvision eval` against py-motmetrics (not part of `swift test`: motmetrics
needs minutes here). Writes a long synthetic ground truth and prediction (default 9000 frames x 10
ids, 5 % visibility-0 rows, jitter, misses, periodic id changes) to a scratch folder, scores it with
py-motmetrics (the same path as make_fixtures.py) and with the kvvision binary, and compares.

  tools/.venv/bin/python tools/eval/crosscheck_large.py [--kvvision .build/release/kvvision] [--frames N]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

NAMES = {"num_frames": "frames", "num_objects": "objects", "num_predictions": "predictions",
         "num_unique_objects": "unique_objects", "num_matches": "matches", "num_switches": "switches",
         "num_false_positives": "false_positives", "num_misses": "misses",
         "num_fragmentations": "fragmentations", "mostly_tracked": "mostly_tracked",
         "partially_tracked": "partially_tracked", "mostly_lost": "mostly_lost", "num_transfer": "transfers",
         "num_ascend": "ascends", "num_migrate": "migrates", "idtp": "idtp", "idfp": "idfp", "idfn": "idfn",
         "mota": "mota", "recall": "recall", "precision": "precision", "idf1": "idf1", "idp": "idp", "idr": "idr"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvvision", default=".build/debug/kvvision")
    ap.add_argument("--frames", type=int, default=9000)
    ap.add_argument("--ids", type=int, default=10)
    args = ap.parse_args()
    rng = random.Random(1)
    folder = tempfile.mkdtemp(prefix="kvvision-eval-large-")
    gt, preds = [], []
    with open(os.path.join(folder, "gt.txt"), "w") as g, open(os.path.join(folder, "pred.txt"), "w") as p:
        for f in range(1, args.frames + 1):
            for i in range(1, args.ids + 1):
                x, y = round((i * 30 + f * 0.7) % 300, 2), round((i * 20 + f * 0.3) % 220, 2)
                vis = 0.0 if rng.random() < 0.05 else 0.8
                g.write(f"{f},{i},{x:.2f},{y:.2f},25.00,25.00,1,1,{vis:.3f}\n")
                gt.append((f, i, x, y, 25.0, 25.0, 1, vis))
                if rng.random() < 0.9:
                    q = dict(frame=f, id=i + 100 * (f // 500 if i % 3 == 0 else 0),
                             x=round(x + rng.gauss(0, 2), 2), y=round(y + rng.gauss(0, 2), 2), w=25.0, h=25.0,
                             score=round(rng.random(), 3))
                    p.write(f"{q['frame']},{q['id']},{q['x']:.2f},{q['y']:.2f},25.00,25.00,{q['score']:.3f},-1,-1,-1\n")
                    preds.append(q)
    t0 = time.time()
    out = subprocess.run([args.kvvision, "eval", "--gt", folder, "--pred", os.path.join(folder, "pred.txt"), "--json"],
                         check=True, capture_output=True, text=True).stdout
    t_kvv = time.time() - t0
    ours = json.loads(out)
    t0 = time.time()
    ref = mf.score(gt, preds, None, args.frames)
    t_ref = time.time() - t0
    worst = 0.0
    for k, v in NAMES.items():
        worst = max(worst, abs(ref[k] - ours["tracking"][v]))
    worst = max(worst, abs((1 - ref["motp"]) - ours["tracking"]["motp"]), abs(ref["ap50"] - ours["detection"]["ap50"]))
    print(f"{len(gt)} ground-truth rows, {len(preds)} predictions, {args.frames} frames")
    print(f"MOTA {ref['mota']:.6f} IDF1 {ref['idf1']:.6f} IDSW {ref['num_switches']:.0f} Frag {ref['num_fragmentations']:.0f}")
    print(f"largest difference over all metrics: {worst:.3g}")
    print(f"time: kvvision eval {t_kvv:.2f} s, py-motmetrics {t_ref:.1f} s")
    sys.exit(0 if worst <= 1e-6 else 1)


if __name__ == "__main__":
    main()
