"""Scores a model on ShapesWorld seeds through `kvvision eval` (AP50, MOTA, IDF1, IDSW, actions).

    tools/.venv/bin/python tools/train/evaluate.py --model models/shapesworld-v1.safetensors \
        --preset standard --seeds test --out /tmp/eval

Renders each seed with `kvvision synth`, decodes it with `kvvision frames`, runs the model and a
reference online tracker (below) in PyTorch, writes kvvision JSON Lines predictions per clip and
scores them with `kvvision eval --json` (optionally --min-visibility); the raw detections
(score >= det.min_score) are also written as MOT text (`det.txt`) and scored, for detection AP50. The tracker is the Python
reference of the default tracker settings in `kvvision.config["tracker"]` (constant-velocity
prediction, cost = w (1 - P_asso) + (1 - w) (1 - IoU), class-gated, two passes as ByteTrack, greedy
assignment by ascending cost); the Swift tracker (Kalman + Hungarian) is what ships.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import seeds  # noqa: E402
from data import ACTIONS, CLASSES, render_clip  # noqa: E402
from export import TRACKER_DEFAULTS, load  # noqa: E402
from metrics import iou_matrix  # noqa: E402
from model import appearance_change, decode, motion_inputs  # noqa: E402


class Track:
    def __init__(self, tid, box, score, cls, frame):
        self.id, self.box, self.score, self.cls, self.frame = tid, box, score, cls, frame
        self.vel = np.zeros(2)
        self.hits = 1
        self.tokens = []  # (frame, token tensor)
        self.act_tokens = []  # (frame, act token: the token, with the change input when the model has one)
        self.feat = None  # grid samples of the last observation (for the act head's change input)

    def predicted(self, t):
        b = self.box.copy()
        b[:2] += self.vel * (t - self.frame)
        return b


@torch.no_grad()
def track_clip(model, clip, cfg=TRACKER_DEFAULTS, device="cpu", batch=16):
    c = model.c
    W = c.window
    tracks, next_id, out, dets = [], 1, [], []
    for i in range(0, clip.length, batch):
        x = model.normalise(torch.from_numpy(clip.frames[i:i + batch]).to(device))
        maps = model.spatial(x)
        for j in range(x.shape[0]):
            t = i + j
            boxes, scores, cls = decode(maps["heat"][j], maps["offset"][j], maps["size"][j], c)
            for k in range(len(boxes)):  # raw detections (score >= det.min_score), MOT text, one id per row
                x0, y0, bw, bh = (float(v) for v in boxes[k])
                dets.append(f"{t + 1},{k + 1},{x0:.2f},{y0:.2f},{bw:.2f},{bh:.2f},{float(scores[k]):.4f},-1,-1,-1")
            low = scores >= cfg["low_threshold"]
            boxes, scores, cls = boxes[low], scores[low], cls[low]
            n = len(boxes)
            feats = model.tok.grid_features(maps["app_map"], boxes, torch.full((n,), j, device=device)) if n else None
            app = model.tok.appearance_from(feats) if n else None
            live = [tr for tr in tracks if t - tr.frame <= cfg["max_lost"]]
            assigned = {}
            if n and live:
                q = torch.cat([app, model.tok.motion(motion_inputs(boxes, scores, cls, boxes, torch.zeros(n, device=device), c.image_size))], 1)
                logits = []
                for tr in live:
                    ks = [tok for (f, tok) in tr.tokens if t - W <= f < t]
                    if not ks:
                        logits.append(torch.full((n,), float("-inf"), device=device))
                        continue
                    s = model.asso.q(q) @ model.asso.k(torch.stack(ks)).T / math.sqrt(c.asso_dim)
                    logits.append(torch.logsumexp(s, 1) - math.log(len(ks)))
                lg = torch.cat([torch.stack(logits, 1), model.asso.null_logit.expand(n, 1)], 1)
                P = torch.softmax(lg, 1)[:, :-1].cpu().numpy()
                pred = np.stack([tr.predicted(t) for tr in live])
                iou = iou_matrix(boxes.cpu().numpy(), pred)
                cost = cfg["association_weight"] * (1 - P) + (1 - cfg["association_weight"]) * (1 - iou)
                if cfg["class_gate"]:
                    cost[cls.cpu().numpy()[:, None] != np.array([tr.cls for tr in live])[None]] = np.inf
                sc = scores.cpu().numpy()
                used = set()
                for high in (True, False):
                    rows = [d for d in range(n) if (sc[d] >= cfg["high_threshold"]) == high]
                    pairs = sorted((cost[d, k], d, k) for d in rows for k in range(len(live)) if k not in used)
                    for cst, d, k in pairs:
                        if cst < cfg["max_cost"] and d not in assigned and k not in used:
                            assigned[d] = live[k]
                            used.add(k)
            objects = []
            for d in range(n):
                b = boxes[d].cpu().numpy()
                s, cl = float(scores[d]), int(cls[d])
                tr = assigned.get(d)
                if tr is None:
                    if s < cfg["new_track_threshold"]:
                        continue
                    tr = Track(next_id, b, s, cl, t)
                    next_id += 1
                    tracks.append(tr)
                    prev, dt = boxes[d:d + 1], torch.zeros(1, device=device)
                else:
                    prev = torch.tensor(tr.box[None], dtype=torch.float32, device=device)
                    dt = torch.tensor([float(t - tr.frame)], device=device)
                    centre = b[:2] + b[2:] / 2
                    vel = (centre - (tr.box[:2] + tr.box[2:] / 2)) / max(1, t - tr.frame)
                    tr.vel = 0.5 * tr.vel + 0.5 * vel if tr.hits > 1 else vel
                    tr.box, tr.score, tr.frame = b, s, t
                    tr.hits += 1
                mot = model.tok.motion(motion_inputs(boxes[d:d + 1], scores[d:d + 1], cls[d:d + 1], prev, dt, c.image_size))
                token = torch.cat([app[d], mot[0]])
                tr.tokens = [(f, k) for (f, k) in tr.tokens if f > t - W] + [(t, token)]
                change = appearance_change(feats[d:d + 1], (tr.feat if tr.feat is not None else feats[d])[None], dt, c.app_channels)
                tr.feat = feats[d]
                x = model.act.inputs(token[None], change)[0]
                tr.act_tokens = [(f, k) for (f, k) in tr.act_tokens if f > t - W] + [(t, x)]
                own = torch.stack([k for _, k in tr.act_tokens])
                frames = torch.tensor([f for f, _ in tr.act_tokens], device=device)
                act = model.act(own, frames, torch.ones(len(own), len(own), dtype=torch.bool, device=device).tril())
                if tr.hits >= cfg["min_hits"]:
                    objects.append({"id": tr.id, "box": [round(float(v), 2) for v in b], "score": round(s, 4),
                                    "class": CLASSES[cl], "action": {"label": ACTIONS[int(act[-1].argmax())]}})
            out.append({"type": "frame", "v": 1, "frame": t, "objects": objects})
    return out, dets


def run_eval(kvvision, gt_dir, pred, min_visibility=None):
    cmd = [kvvision, "eval", "--gt", gt_dir, "--pred", pred, "--json"]
    if min_visibility is not None:
        cmd += ["--min-visibility", str(min_visibility)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout)


def summarise(reports):
    tr = lambda k: sum(r["tracking"][k] for r in reports)  # noqa: E731
    gt = tr("objects")
    idtp, preds = tr("idtp"), tr("predictions")
    acts = [r["actions"] for r in reports if r.get("actions")]
    matched = sum(a["matched"] for a in acts)
    correct = sum(a["accuracy"] * a["matched"] for a in acts if a["accuracy"] is not None)
    return {"clips": len(reports), "gt_boxes": gt,
            "mota": 1 - (tr("misses") + tr("switches") + tr("false_positives")) / gt,
            "idf1": 2 * idtp / (gt + preds), "idsw": tr("switches"), "idsw_per_1000": 1000 * tr("switches") / gt,
            "fp": tr("false_positives"), "fn": tr("misses"),
            "ap50_mean": float(np.mean([r["detection"]["ap50"] or 0 for r in reports])),
            "raw_detection_ap50_mean": float(np.mean([r["raw_detections"]["ap50"] or 0 for r in reports])),
            "action_accuracy": correct / matched if matched else None}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="exported .safetensors (or a training .pt checkpoint)")
    p.add_argument("--preset", default="standard")
    p.add_argument("--seeds", default="val", help="val | test | comma list")
    p.add_argument("--count", type=int, default=0, help="use only the first N seeds")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True, help="directory for clips, predictions and reports")
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--min-visibility", type=float, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.model.endswith(".safetensors"):
        model = load(a.model, a.device)
    else:
        from model import KVVisionModel
        model = KVVisionModel().to(a.device)
        model.load_state_dict(torch.load(a.model, map_location=a.device))
    model.eval()
    seed_list = {"val": seeds.VAL_SEEDS, "test": seeds.TEST_SEEDS}.get(a.seeds) or [int(s) for s in a.seeds.split(",")]
    if a.count:
        seed_list = seed_list[:a.count]
    reports = []
    for s in seed_list:
        d = os.path.join(a.out, f"{a.preset}-{s}")
        clip = render_clip(a.kvvision, s, a.preset, a.seconds, d, keep=True)
        clip.frames = clip.frames  # decoded as the pipeline decodes
        records, dets = track_clip(model, clip, device=a.device)
        det_path = os.path.join(d, "det.txt")
        with open(det_path, "w") as fh:
            fh.write("".join(line + "\n" for line in dets))
        det_rep = run_eval(a.kvvision, d, det_path, a.min_visibility)
        pred = os.path.join(d, "pred.jsonl")
        with open(pred, "w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
        rep = run_eval(a.kvvision, d, pred, a.min_visibility)
        rep["raw_detections"] = {"ap50": det_rep["detection"]["ap50"], "recall": det_rep["tracking"]["recall"]}
        with open(os.path.join(d, "eval.json"), "w") as fh:
            json.dump(rep, fh, indent=1)
        reports.append(rep)
        print(json.dumps({"seed": s, "mota": rep["tracking"]["mota"], "idf1": rep["tracking"]["idf1"],
                          "ap50": rep["detection"]["ap50"], "raw_det_ap50": det_rep["detection"]["ap50"],
                          "action": (rep.get("actions") or {}).get("accuracy")}), file=sys.stderr, flush=True)
    summary = summarise(reports)
    summary.update({"preset": a.preset, "seeds": seed_list, "min_visibility": a.min_visibility})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
