"""Stage 2: tok.mot + asso + act on cached stage-1 features of whole clips (longer than the window).

The frozen stage-1 model runs once over each clip: its own decoded detections (score >= 0.05), each
with its appearance embedding and the ground-truth id it matches (IoU >= 0.5, greedy by score; 0 for
a false positive). Training then replays the clip as the tracker would see it, owners teacher-forced
from ground truth, with the noise the tracker produces: token drop, false-positive tracks, box
jitter and owner swaps.
"""

import concurrent.futures
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import seeds
from data import render_clip
from metrics import iou_matrix
from model import appearance_change, decode, motion_inputs

STAGE2_SEED_OFFSET = 5_000_000  # stage-2 clips: TRAIN_START + 5e6 + k, never reached by stage 1


@torch.no_grad()
def cache_clip(model, clip, device="cpu", batch=16, bf16=False):
    """Runs the frozen frame model over one clip (bf16: its forward under bf16 autocast, outputs read
    back as f32) and keeps each frame's decoded detections with their ground-truth owners."""
    model.eval()
    keep_feat = model.c.act_change_dim > 0  # grid samples for the act head's change input (f16)
    rows = {"frame": [], "box": [], "score": [], "cls": [], "app": [], "gt": []} | ({"feat": []} if keep_feat else {})
    for i in range(0, clip.length, batch):
        x = model.normalise(torch.from_numpy(clip.frames[i:i + batch]).to(device))
        out = model.spatial(x, bf16=bf16)
        for j in range(x.shape[0]):
            t = i + j
            b, s, c = decode(out["heat"][j], out["offset"][j], out["size"][j], model.c)
            if len(b) == 0:
                continue
            feat = model.tok.grid_features(out["app_map"], b, torch.full((len(b),), j, device=device))
            app = model.tok.appearance_from(feat)
            v = clip.visible(t)
            gt = np.zeros(len(b), np.int64)
            iou = iou_matrix(b.cpu().numpy(), v[:, 1:5])
            taken = set()
            for k in range(len(b)):  # sorted by score already
                if iou.shape[1] == 0:
                    break
                m = int(np.argmax(np.where([q in taken for q in range(iou.shape[1])], -1, iou[k])))
                if iou[k, m] >= 0.5 and m not in taken:
                    taken.add(m)
                    gt[k] = int(v[m, 0])
            rows["frame"].append(np.full(len(b), t))
            rows["box"].append(b.cpu().numpy())
            rows["score"].append(s.cpu().numpy())
            rows["cls"].append(c.cpu().numpy())
            rows["app"].append(app.cpu().numpy())
            if keep_feat:
                rows["feat"].append(feat.cpu().numpy().astype(np.float16))
            rows["gt"].append(gt)
    model.train()
    cached = {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}
    cached["actions"] = clip.actions
    cached["length"] = clip.length
    return cached


def replay(cached, rng, noise=True, low=0.1, high=0.4, drop=0.1, swap=0.02, jitter=0.02):
    """One noisy replay of a cached clip. Returns index arrays and per-detection owners / prev links."""
    keep = cached["score"] >= low
    if noise:
        keep &= ~((cached["gt"] > 0) & (rng.random(len(keep)) < drop))
    idx = np.nonzero(keep)[0]
    frame, gt, score = cached["frame"][idx], cached["gt"][idx], cached["score"][idx]
    box = cached["box"][idx].copy()
    if noise:
        box[:, :2] += rng.normal(0, jitter, (len(idx), 2)) * box[:, 2:]
        box[:, 2:] *= np.exp(rng.normal(0, jitter, (len(idx), 2)))
    owner = gt.copy()
    fake = (gt == 0) & (score >= high)
    owner[fake] = 1_000_000 + np.arange(fake.sum())  # a false positive starts its own track
    ids = np.unique(gt[gt > 0])
    if noise and len(ids) > 1:
        sw = (gt > 0) & (rng.random(len(idx)) < swap)
        owner[sw] = rng.choice(ids, sw.sum())
    prev = np.full(len(idx), -1)
    last = {}
    for k in np.argsort(frame, kind="stable"):
        o = owner[k]
        if o > 0:
            prev[k] = last.get(o, -1)
            last[o] = k
    return {"idx": idx, "frame": frame, "gt": gt, "owner": owner, "box": box, "score": score,
            "cls": cached["cls"][idx], "prev": prev}


def losses(model, cached, r, device="cpu"):
    c = model.c
    W = c.window
    n = len(r["idx"])
    if n < 2:
        return None
    f = torch.tensor(r["frame"], device=device)
    box = torch.tensor(r["box"], dtype=torch.float32, device=device)
    score = torch.tensor(r["score"], dtype=torch.float32, device=device)
    cls = torch.tensor(r["cls"], device=device)
    app = torch.tensor(cached["app"][r["idx"]], dtype=torch.float32, device=device)
    prev = torch.tensor(r["prev"], device=device)
    has = prev >= 0
    prev_box = torch.where(has[:, None], box[prev.clamp(min=0)], box)
    dt = torch.where(has, f - f[prev.clamp(min=0)], torch.zeros_like(f))
    tokens = torch.cat([app, model.tok.motion(motion_inputs(box, score, cls, prev_box, dt, c.image_size))], 1)
    queries = torch.cat([app, model.tok.motion(motion_inputs(box, score, cls, box, torch.zeros_like(f), c.image_size))], 1)
    owner = torch.tensor(r["owner"], device=device)
    gt = torch.tensor(r["gt"], device=device)
    # association: queries = every kept detection; keys = owned tokens of the W previous frames
    keyed = owner > 0
    kidx = torch.nonzero(keyed)[:, 0]
    uniq, oidx = torch.unique(owner[kidx], return_inverse=True)
    onehot = F.one_hot(oidx, len(uniq)).to(torch.float32)  # [Nk,O]
    fk = f[kidx]
    visible = (fk[None] < f[:, None]) & (fk[None] >= f[:, None] - W)  # [Nq,Nk]
    s = model.asso.q(queries) @ model.asso.k(tokens[kidx]).T / math.sqrt(c.asso_dim)
    s = s.masked_fill(~visible, float("-inf"))
    m = s.max(1, keepdim=True).values.clamp(min=-1e4).detach()
    A = torch.exp(s - m).nan_to_num(0.0) @ onehot  # [Nq,O]
    cnt = visible.to(torch.float32) @ onehot
    logits = torch.log(A.clamp(min=1e-38)) + m - torch.log(cnt.clamp(min=1))
    logits = logits.masked_fill(cnt == 0, float("-inf"))
    logits = torch.cat([logits, model.asso.null_logit.expand(n, 1)], 1)
    # target: the true id if it has tokens in the window, else "new track"
    match = (uniq[None] == gt[:, None]) & (gt[:, None] > 0) & (cnt > 0)  # [Nq,O]
    target = torch.where(match.any(1), match.float().argmax(1), torch.full_like(gt, len(uniq)))
    l_asso = F.cross_entropy(logits, target)
    asso_acc = (logits.argmax(1) == target).float().mean()
    # action: each real-owner token queries its owner's tokens in (t-W, t]
    real = torch.nonzero((gt > 0) & keyed)[:, 0]
    fr = f[real]
    allowed = (owner[real][:, None] == owner[real][None]) & (fr[None] <= fr[:, None]) & (fr[None] > fr[:, None] - W)
    change = None
    if c.act_change_dim:
        feat = torch.tensor(cached["feat"][r["idx"][real.cpu().numpy()]], dtype=torch.float32, device=device)
        pr = prev[real]
        prev_feat = torch.tensor(cached["feat"][r["idx"][pr.clamp(min=0).cpu().numpy()]], dtype=torch.float32, device=device)
        change = appearance_change(feat, prev_feat, dt[real], c.app_channels)
    act_logits = model.act(model.act.inputs(tokens[real], change), fr, allowed)
    labels = torch.tensor([cached["actions"][int(g)][int(t)] for g, t in zip(r["gt"][real.cpu().numpy()], r["frame"][real.cpu().numpy()])],
                          device=device)
    l_act = F.cross_entropy(act_logits, labels)
    act_acc = (act_logits.argmax(1) == labels).float().mean()
    return l_asso, l_act, float(asso_acc), float(act_acc)


def build_cache(model, args, log, seeds_presets, tag):
    """Renders and caches each clip; the next clip renders (kvvision child processes) while this one runs the model."""
    out = []
    render = lambda s, p: render_clip(args.kvvision, s, p, args.stage2_seconds, os.path.join(args.workdir, f"s2-{s}"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(render, *seeds_presets[0]) if seeds_presets else None
        for k, (s, p) in enumerate(seeds_presets):
            t0 = time.time()
            clip = pending.result()
            pending = pool.submit(render, *seeds_presets[k + 1]) if k + 1 < len(seeds_presets) else None
            out.append(cache_clip(model, clip, args.device, bf16=args.bf16))
            log({"stage": 2, "cached": tag, "seed": s, "preset": p, "detections": int(len(out[-1]["score"])),
                 "s": round(time.time() - t0, 1)})
    return out


def train(model, args, log):
    rng = np.random.default_rng(args.seed + 2)
    prng = random.Random(args.seed + 2)
    presets = [prng.choices(seeds.PRESETS, (1, 2, 2))[0] for _ in range(args.stage2_clips)]
    base = seeds.TRAIN_START + STAGE2_SEED_OFFSET
    train_cache = build_cache(model, args, log, [(base + k, p) for k, p in enumerate(presets)], "train")
    val_cache = build_cache(model, args, log, [(s, "standard") for s in seeds.VAL_SEEDS[:args.stage2_val_clips]], "val")
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(model.tok.mot_fc1.parameters()) + list(model.tok.mot_fc2.parameters()) + \
        list(model.asso.parameters()) + list(model.act.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=args.stage2_lr, weight_decay=0.01)
    steps = args.stage2_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    t0 = time.time()
    run = {}
    for step in range(1, steps + 1):
        cached = train_cache[int(rng.integers(len(train_cache)))]
        res = losses(model, cached, replay(cached, rng, drop=args.stage2_drop, swap=args.stage2_swap, jitter=args.stage2_jitter),
                     args.device)
        if res is None:
            continue
        l_asso, l_act, a_acc, c_acc = res
        loss = l_asso + l_act
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        for k, v in (("asso", float(l_asso.detach())), ("act", float(l_act.detach())), ("asso_acc", a_acc), ("act_acc", c_acc)):
            run[k] = v if k not in run else 0.95 * run[k] + 0.05 * v
        if step % (args.log_every * 4) == 0 or step == steps:
            rec = {"stage": 2, "step": step, "elapsed_s": round(time.time() - t0, 1), **{k: round(v, 4) for k, v in run.items()}}
            if val_cache and (step % (args.log_every * 20) == 0 or step == steps):
                with torch.no_grad():
                    vals = [losses(model, v, replay(v, rng, noise=False), args.device) for v in val_cache]
                vals = [v for v in vals if v is not None]
                rec.update({"val_asso_acc": round(float(np.mean([v[2] for v in vals])), 4),
                            "val_act_acc": round(float(np.mean([v[3] for v in vals])), 4)})
            log(rec)
    for p in model.parameters():
        p.requires_grad_(True)
    return model
