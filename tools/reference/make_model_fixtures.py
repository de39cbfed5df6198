#!/usr/bin/env python3
"""Golden-clip parity fixture for kvvision's default model (encoder + det/tok/asso/act heads),
produced by the PyTorch reference tools/train/model.py (offline only).

Writes into Tests/KVVisionTests/Fixtures/model (or --out DIR):

  golden-model.safetensors  a TINY model of the real architecture, exported by tools/train/export.py
                            (`export(model, path, name="golden-tiny")`: F16 tensors, `kvvision.config`
                            metadata): image 64x96 (HxW), patch 16 (4x6 grid), dim 48, depth 2, 3 heads,
                            MLP 96; det stride 8 (8x12 maps), up 16, stem [8, 12, 16], neck 24, top_k 12,
                            min_score 0.05; tok app 16/32/16, motion 15/16/16 (token width 32); asso dim
                            16; act 4 heads / 2 kv heads x 8, hidden 32; window 3 (asso.window, act.window).
                            Init: torch.manual_seed(0); then every bias (encoder and heads) gets
                            N(0, 0.05) noise from torch.Generator seeded with SEED (printed; the first
                            seed >= 1 that passes the decode checks below), det.heatmap.bias is
                            -1 + that noise, det.heatmap.weight is multiplied by 10 (HEAT_GAIN: with
                            the init weights the heat logits span ~0.1, and the top peaks tie within
                            1e-4 for every seed), asso.null_logit = 0.3.
  golden-clip.safetensors   float32 tensors, metadata {"format": "pt", "rule": ...}, T = 8 frames.
                            Every expected value is computed with the exported F16 weights reloaded
                            into an F32 model (export.load), i.e. exactly the weights Swift loads.

golden-clip tensors (t = 0..7 is the suffix; P = 24 patches; n detections, m <= 4 owned):
  frames        [8, 64, 96, 3]  RGB 0..255 (integers as f32): samples/easy/video.mp4's first 8 frames
                                decoded by `kvvision frames --size 96x64` (swscale bilinear)
  input.0       [3, 64, 96]     model.normalise(frame 0): (v/255 - mean)/std (frame 0 only)
  tokens.t      [25, 48]        encoder.forward_features (row 0 = class token)
  features.t    [24, 8, 12]     det neck output F (after the last ReLU)
  heat.t        [4, 8, 12]      heatmap LOGITS (before the sigmoid)
  offset.t      [2, 8, 12]      centre offsets (cells)
  size.t        [2, 8, 12]      ln width, ln height (pixels)
  app_map.t     [16, 8, 12]     tok.app_map(F)
  detections.t  [n, 6]          decode(): x, y, w, h (model pixels), score, class index; score
                                descending. n >= 1; no two peak scores among the top_k + 1 largest
                                within 1e-4 and none within 1e-3 of min_score (asserted).
  app.t         [n, 16]         tok.appearance for those boxes
  query.t       [n, 32]         [e_app | tok.motion(motion_inputs(box, score, cls, prev=box, dt=0))]
  assoc.t       [n, 5]          P(owner | detection) for owners 1, 2, 3, 4 (columns 0..3) then P(new)
                                (column 4), as tools/train/evaluate.py's track_clip: per owner
                                logsumexp over its tokens in frames t-W .. t-1 of
                                asso.q(query)·asso.k(token)/sqrt(16), minus ln(count); -inf when the
                                owner has none; softmax over [owners..., null_logit]. Frame 0: [0,0,0,0,1].
  owners.t      [m]             owner ids (1..4, as floats) of the owned detections, in rank order
  motion.t      [m, 15]         the owned detections' motion inputs (prev box / dt from the owner)
  owned.t       [m, 32]         the owned tokens [e_app | tok.motion(motion.t)] written to the window
  change.t      [m, 10]         the act head's appearance-change inputs (model.appearance_change):
                                10 (1 - cos) between f, the box's 3x3 grid samples of app_map
                                (tok.grid_features), and f_prev, the owner's previous written ones,
                                at each of the 9 points (16 channels each) and over all 144; zeros
                                for the owner's first token
  act.t         [m, 5]          act logits of each owned token: model.act over that owner's act
                                tokens [owned | act.change(change)] in frames t-W+1 .. t (current
                                last), frames = frame indices, causal (lower-triangular) mask; the
                                current token's row (as track_clip)

Teacher forcing (the "rule" metadata): in frame t the detection of rank k < 4 (decode order) is
owned by owner k+1 (only the first n when n < 4). Its token uses motion_inputs(box, score, cls,
prev_box, dt) with prev_box = the owner's previous written box and dt = frames since that owner's
last written token (whatever the window), or prev = box, dt = 0 for the owner's first token.
W = 3, so tokens are evicted within the 8 frames.

Usage: tools/.venv/bin/python tools/reference/make_model_fixtures.py [--out DIR]
       [--kvvision .build/release/kvvision] [--video samples/easy/video.mp4]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file as np_load_file
from safetensors.numpy import save_file as np_save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))

from export import export, load  # noqa: E402
from model import Config, KVVisionModel, appearance_change, decode, motion_inputs  # noqa: E402

T = 8
OWNERS = 4
TINY = dict(image_size=[64, 96], patch_size=16, dim=48, depth=2, heads=3, mlp_dim=96, stride=8, up_channels=16,
            stem_channels=[8, 12, 16], neck_channels=24, app_channels=16, app_hidden=32, app_dim=16, mot_inputs=15,
            mot_hidden=16, mot_dim=16, asso_dim=16, act_heads=4, act_kv_heads=2, act_head_dim=8, act_hidden=32,
            window=3, top_k=12, min_score=0.05, act_change_dim=6)
RULE = ("teacher forcing: in frame t the detection of decode rank k<4 is owned by owner k+1; its token uses "
        "motion_inputs(box, score, cls, owner's previous written box, frames since it) or (box, 0) for the "
        "owner's first token; window W=3")
BIAS_NOISE = 0.05
HEAT_GAIN = 10.0  # at init the heat logits span only ~0.1: peaks tie within 1e-4 for every seed
TIE_GAP = 1e-4
THRESHOLD_GAP = 1e-3


def decode_frames(kvvision, video, size_hw):
    """The first T frames of video decoded by `kvvision frames` at the model size: uint8 [T, H, W, 3]."""
    with tempfile.TemporaryDirectory() as d:
        npy = os.path.join(d, "frames.npy")
        h, w = size_hw
        subprocess.run([kvvision, "frames", video, "--out", npy, "--size", f"{w}x{h}", "--max-frames", str(T),
                        "--threads", "1"], check=True, stdout=subprocess.DEVNULL)
        frames = np.load(npy)
    assert frames.shape == (T, h, w, 3) and frames.dtype == np.uint8, frames.shape
    return frames


def tiny_model(seed):
    """The tiny model: manual_seed(0) init, biases perturbed with N(0, BIAS_NOISE) from `seed`, heat
    bias -1 + noise, heat weights x HEAT_GAIN, null_logit 0.3."""
    torch.manual_seed(0)
    model = KVVisionModel(Config(**TINY)).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("bias"):
                noise = torch.randn(p.shape, generator=gen) * BIAS_NOISE
                if name == "det.heatmap.bias":
                    p.copy_(-1.0 + noise)
                else:
                    p.add_(noise)
        model.det.heatmap.weight.mul_(HEAT_GAIN)
        model.asso.null_logit.fill_(0.3)
    return model


@torch.no_grad()
def spatial(model, frames):
    """Per-frame encoder input, tokens and det/tok maps (batched over the clip)."""
    x = model.normalise(torch.from_numpy(frames))
    tokens = model.encoder.forward_features(x)
    feat, heat, off, size = model.det(x, tokens[:, 1:])
    return {"input": x, "tokens": tokens, "features": feat, "heat": heat, "offset": off, "size": size,
            "app_map": model.tok.app_map(feat)}


def decode_ok(maps, c):
    """None when every frame decodes unambiguously, else the reason."""
    for t in range(T):
        hm = torch.sigmoid(maps["heat"][t])
        best = hm.max(0).values  # decode() picks peaks of the maximum over classes
        peaks = best * (torch.nn.functional.max_pool2d(best[None, None], 3, stride=1, padding=1)[0, 0] == best)
        order = torch.sort(peaks.reshape(-1), descending=True)
        top = order.values[:c.top_k + 1].double().numpy()
        for cell in order.indices[:c.top_k].tolist():
            two = torch.topk(hm.reshape(hm.shape[0], -1)[:, cell], 2).values
            if peaks.reshape(-1)[cell] >= c.min_score and float(two[0] - two[1]) < TIE_GAP:
                return f"frame {t}: a peak's class is ambiguous within {TIE_GAP}"
        if top[0] < c.min_score:
            return f"frame {t}: no detection"
        near = top[top >= c.min_score - THRESHOLD_GAP]
        if np.any(np.abs(near - c.min_score) < THRESHOLD_GAP):
            return f"frame {t}: a peak within {THRESHOLD_GAP} of min_score"
        if len(near) > 1 and np.min(near[:-1] - near[1:]) < TIE_GAP:
            return f"frame {t}: two peaks within {TIE_GAP}"
    return None


@torch.no_grad()
def clip_tensors(model, frames):
    c = model.c
    W = c.window
    maps = spatial(model, frames)
    out = {"frames": frames.astype(np.float32)}
    history = {o: [] for o in range(1, OWNERS + 1)}  # owner -> [(frame, token, box, grid samples, act token)]
    for t in range(T):
        for key in ("input", "tokens", "features", "heat", "offset", "size", "app_map"):
            if key == "input" and t > 0:
                continue  # frame 0's normalised input suffices (the rest follow from `frames`)
            out[f"{key}.{t}"] = maps[key][t]
        boxes, scores, cls = decode(maps["heat"][t], maps["offset"][t], maps["size"][t], c)
        n = len(boxes)
        feats = model.tok.grid_features(maps["app_map"], boxes, torch.full((n,), t, dtype=torch.long))
        app = model.tok.appearance_from(feats)
        query = torch.cat([app, model.tok.motion(motion_inputs(boxes, scores, cls, boxes, torch.zeros(n), c.image_size))], 1)
        logits = []
        for o in range(1, OWNERS + 1):
            ks = [h[1] for h in history[o] if t - W <= h[0] < t]
            if not ks:
                logits.append(torch.full((n,), float("-inf")))
                continue
            s = model.asso.q(query) @ model.asso.k(torch.stack(ks)).T / math.sqrt(c.asso_dim)
            logits.append(torch.logsumexp(s, 1) - math.log(len(ks)))
        assoc = torch.softmax(torch.cat([torch.stack(logits, 1), model.asso.null_logit.expand(n, 1)], 1), 1)
        owners, motion, owned, changes, act = [], [], [], [], []
        for k in range(min(n, OWNERS)):
            o = k + 1
            if history[o]:
                f_prev, _, b_prev, feat_prev, _ = history[o][-1]
                prev, dt = b_prev[None], torch.tensor([float(t - f_prev)])
            else:
                prev, dt, feat_prev = boxes[k:k + 1], torch.zeros(1), feats[k]
            g = motion_inputs(boxes[k:k + 1], scores[k:k + 1], cls[k:k + 1], prev, dt, c.image_size)
            token = torch.cat([app[k], model.tok.motion(g)[0]])
            change = appearance_change(feats[k:k + 1], feat_prev[None], dt, c.app_channels)
            x = model.act.inputs(token[None], change)[0]
            history[o].append((t, token, boxes[k].clone(), feats[k].clone(), x))
            win = [(h[0], h[4]) for h in history[o] if h[0] > t - W]
            own = torch.stack([tok for _, tok in win])
            fr = torch.tensor([f for f, _ in win])
            logit = model.act(own, fr, torch.ones(len(own), len(own), dtype=torch.bool).tril())[-1]
            owners.append(float(o))
            motion.append(g[0])
            owned.append(token)
            changes.append(change[0])
            act.append(logit)
        det = torch.cat([boxes, scores[:, None], cls[:, None].to(boxes.dtype)], 1)
        out[f"detections.{t}"] = det
        out[f"app.{t}"] = app
        out[f"query.{t}"] = query
        out[f"assoc.{t}"] = assoc
        out[f"owners.{t}"] = torch.tensor(owners)
        out[f"motion.{t}"] = torch.stack(motion)
        out[f"owned.{t}"] = torch.stack(owned)
        out[f"change.{t}"] = torch.stack(changes)
        out[f"act.{t}"] = torch.stack(act)
    return {k: np.ascontiguousarray(v.numpy() if torch.is_tensor(v) else v, dtype=np.float32) for k, v in out.items()}


def self_check(model_path, clip_path, c):
    m = load(model_path)
    assert m.c.__dict__ == Config(**TINY).__dict__, "kvvision.config does not round-trip"
    with safe_open(model_path, framework="pt") as fh:
        cfg = json.loads(fh.metadata()["kvvision.config"])
    assert cfg["asso"]["window"] == cfg["act"]["window"] == TINY["window"] and cfg["name"] == "golden-tiny"
    with safe_open(clip_path, framework="np") as fh:
        meta = fh.metadata()
    assert meta == {"format": "pt", "rule": RULE}, meta
    d = np_load_file(clip_path)
    assert all(v.dtype == np.float32 for v in d.values())
    H, Wd = c.image_size
    h, w = c.map_size
    P = (H // c.patch_size) * (Wd // c.patch_size)
    assert d["frames"].shape == (T, H, Wd, 3)
    assert np.all(d["frames"] == np.round(d["frames"])) and d["frames"].min() >= 0 and d["frames"].max() <= 255
    names = {"frames"}
    for t in range(T):
        n, m_ = d[f"detections.{t}"].shape[0], d[f"owners.{t}"].shape[0]
        shapes = {"input": (3, H, Wd), "tokens": (1 + P, c.dim), "features": (c.neck_channels, h, w),
                  "heat": (4, h, w), "offset": (2, h, w), "size": (2, h, w), "app_map": (c.app_channels, h, w),
                  "detections": (n, 6), "app": (n, c.app_dim), "query": (n, c.token_dim), "assoc": (n, OWNERS + 1),
                  "owners": (m_,), "motion": (m_, c.mot_inputs), "owned": (m_, c.token_dim),
                  "change": (m_, 10), "act": (m_, 5)}
        assert n >= 1 and m_ == min(n, OWNERS)
        if t > 0:
            del shapes["input"]
        for k, s in shapes.items():
            assert d[f"{k}.{t}"].shape == s, (k, t, d[f"{k}.{t}"].shape, s)
            assert np.all(np.isfinite(d[f"{k}.{t}"])), (k, t)
            names.add(f"{k}.{t}")
        a = d[f"assoc.{t}"]
        assert np.all(np.abs(a.sum(1) - 1) < 1e-5), (t, a.sum(1))
        if t == 0:
            assert np.array_equal(a, np.tile(np.array([0, 0, 0, 0, 1], np.float32), (n, 1)))
        assert np.array_equal(d[f"owners.{t}"], np.arange(1, m_ + 1, dtype=np.float32))
        assert np.all(np.diff(d[f"detections.{t}"][:, 4]) <= 0)
        print(f"frame {t}: n {n} m {m_} " + " ".join(
            f"{k} {float(np.abs(d[f'{k}.{t}']).max()):.4g}" for k in shapes), flush=True)
    assert names == set(d), set(d) ^ names
    assert any(np.abs(d[f"change.{t}"]).max() > 0 for t in range(T)), "no appearance change to check"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "Tests", "KVVisionTests", "Fixtures", "model"))
    p.add_argument("--kvvision", default=os.path.join(ROOT, ".build", "release", "kvvision"))
    p.add_argument("--video", default=os.path.join(ROOT, "samples", "easy", "video.mp4"))
    p.add_argument("--max-seed", type=int, default=200)
    a = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    c = Config(**TINY)
    frames = decode_frames(a.kvvision, a.video, c.image_size)
    model_path = os.path.join(a.out, "golden-model.safetensors")
    clip_path = os.path.join(a.out, "golden-clip.safetensors")
    for seed in range(1, a.max_seed + 1):
        export(tiny_model(seed), model_path, name="golden-tiny")
        model = load(model_path).eval()  # the F16-rounded weights, computed in F32
        why = decode_ok(spatial(model, frames), model.c)
        if why is None:
            break
        print(f"seed {seed} rejected: {why}", file=sys.stderr)
    else:
        raise SystemExit(f"no seed in 1..{a.max_seed} decodes unambiguously")
    print(f"perturbation seed {seed}")
    tensors = clip_tensors(model, frames)
    np_save_file(tensors, clip_path, metadata={"format": "pt", "rule": RULE})
    self_check(model_path, clip_path, c)
    for path in (model_path, clip_path):
        print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
