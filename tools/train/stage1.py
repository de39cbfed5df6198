"""Stage 1: encoder + det + appearance embedding (InfoNCE over ground-truth ids across frame pairs)."""

import math
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

from data import CLASSES
from metrics import detection_report
from model import decode


def gaussian_radius(h, w, min_overlap=0.7):
    """CenterNet's radius (in output cells) for a box of h x w cells."""
    a1, b1, c1 = 1, h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(hm, cx, cy, radius):
    d = 2 * radius + 1
    sigma = d / 6
    ys, xs = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    g = np.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma))
    H, W = hm.shape
    l, r = min(cx, radius), min(W - cx, radius + 1)
    t, b = min(cy, radius), min(H - cy, radius + 1)
    region = hm[cy - t:cy + b, cx - l:cx + r]
    np.maximum(region, g[radius - t:radius + b, radius - l:radius + r], out=region)


def det_targets(boxes_per_frame, c):
    """boxes_per_frame: list of arrays (n,5) x,y,w,h,class. Returns heat [B,C,h,w] and regression
    lists (b, y, x, offx, offy, logw, logh)."""
    h, w = c.map_size
    s = c.stride
    heat = np.zeros((len(boxes_per_frame), len(CLASSES), h, w), np.float32)
    reg = []
    for b, boxes in enumerate(boxes_per_frame):
        for x0, y0, bw, bh, cl in boxes:
            cx, cy = (x0 + bw / 2) / s, (y0 + bh / 2) / s
            ix, iy = min(max(int(cx), 0), w - 1), min(max(int(cy), 0), h - 1)
            r = max(0, int(gaussian_radius(bh / s, bw / s)))
            draw_gaussian(heat[b, int(cl)], ix, iy, r)
            reg.append((b, iy, ix, cx - ix, cy - iy, math.log(bw), math.log(bh)))
    return heat, np.asarray(reg, np.float32).reshape(-1, 7)


def focal_loss(logits, target):
    pos = target.eq(1).float()
    neg_w = (1 - target) ** 4
    logp, log1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos_loss = (logp * (1 - p) ** 2 * pos).sum()
    neg_loss = (log1mp * p ** 2 * neg_w * (1 - pos)).sum()
    return -(pos_loss + neg_loss) / pos.sum().clamp(min=1)


def make_batch(buffer, batch, rng, max_gap=12):
    """Pairs of frames from the same clip; returns frames [B,H,W,3], boxes per frame, pair ids."""
    frames, boxes, ids = [], [], []
    for _ in range(batch // 2):
        clip, t, t2 = buffer.sample_pair(max_gap)
        for f in (t, t2):
            v = clip.visible(f)
            frames.append(clip.frames[f])
            boxes.append(v)
        ids.append(clip.seed)
    return np.stack(frames), boxes, ids


def appearance_loss(model, app_map, boxes, seeds, rng, temperature=0.1, jitter=0.1, min_vis=0.25):
    """InfoNCE between the same object's embeddings in the two frames of each pair."""
    qa, qb, keys = [], [], []
    for p, seed in enumerate(seeds):
        a, b = boxes[2 * p], boxes[2 * p + 1]
        ib = {int(r[0]): r for r in b if r[6] >= min_vis}
        for r in a:
            if r[6] >= min_vis and int(r[0]) in ib:
                qa.append((2 * p, r[1:5]))
                qb.append((2 * p + 1, ib[int(r[0])][1:5]))
                keys.append((seed, int(r[0])))
    if len(keys) < 2:
        return torch.zeros(())

    def emb(items):
        idx = torch.tensor([i for i, _ in items])
        bx = torch.tensor(np.stack([x for _, x in items]), dtype=torch.float32)
        noise = torch.tensor(rng.uniform(-jitter, jitter, (len(items), 4)), dtype=torch.float32)
        bx = torch.cat([bx[:, :2] + noise[:, :2] * bx[:, 2:], bx[:, 2:] * (1 + noise[:, 2:])], 1)
        return F.normalize(model.tok.appearance(app_map, bx.to(app_map.device), idx.to(app_map.device)), dim=1)

    za, zb = emb(qa), emb(qb)
    logits = za @ zb.T / temperature
    code = torch.tensor([hash(k) for k in keys], device=logits.device)
    same = (code[:, None] == code[None]) & ~torch.eye(len(keys), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(keys), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def validate(model, clips, stride=5, batch=16, device="cpu"):
    """Class-agnostic AP50 and class-aware mAP50 on every `stride`-th frame of the validation clips."""
    model.eval()
    preds, gts = [], []
    for clip in clips:
        ts = list(range(0, clip.length, stride))
        for i in range(0, len(ts), batch):
            chunk = ts[i:i + batch]
            x = model.normalise(torch.from_numpy(clip.frames[chunk]).to(device))
            out = model.spatial(x)
            for j, t in enumerate(chunk):
                b, s, c = decode(out["heat"][j], out["offset"][j], out["size"][j], model.c)
                preds.append((b.cpu().numpy(), s.cpu().numpy(), c.cpu().numpy()))
                v = clip.visible(t)
                gts.append((v[:, 1:5], v[:, 5].astype(int)))
    model.train()
    return detection_report(preds, gts, len(CLASSES))


def train(model, buffer, val_clips, args, log):
    device = args.device
    rng = np.random.default_rng(args.seed)
    params_decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n]
    params_other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n)]
    opt = torch.optim.AdamW([{"params": params_decay, "weight_decay": args.weight_decay},
                             {"params": params_other, "weight_decay": 0.0}], lr=args.lr)
    steps = args.stage1_steps
    warm = min(args.warmup, steps // 5)
    t0 = time.time()
    cpu0 = time.process_time()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def progress(s):
        """Fraction of the schedule done: by steps, or by --max-minutes when that comes first."""
        p = (s - warm) / max(1, steps - warm)
        if args.max_minutes:
            p = max(p, (time.time() - t0) / (args.max_minutes * 60))
        return min(1.0, p)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * progress(s))))
    model.train()
    seen = 0
    run = {}
    for step in range(1, steps + 1):
        if step % args.refresh_every == 0:
            buffer.refresh()
        frames, boxes, seeds = make_batch(buffer, args.batch, rng)
        heat_t, reg = det_targets([b[:, [1, 2, 3, 4, 5]] for b in boxes], model.c)
        x = model.normalise(torch.from_numpy(frames).to(device))
        out = model.spatial(x, bf16=args.bf16)  # losses and the appearance head in f32 either way
        l_heat = focal_loss(out["heat"], torch.from_numpy(heat_t).to(device))
        r = torch.from_numpy(reg).to(device)
        bi, yi, xi = r[:, 0].long(), r[:, 1].long(), r[:, 2].long()
        off = out["offset"].permute(0, 2, 3, 1)[bi, yi, xi]
        size = out["size"].permute(0, 2, 3, 1)[bi, yi, xi]
        l_off = F.l1_loss(off, r[:, 3:5]) if len(r) else torch.zeros((), device=device)
        l_size = F.l1_loss(size, r[:, 5:7]) if len(r) else torch.zeros((), device=device)
        l_app = appearance_loss(model, out["app_map"], boxes, seeds, rng).to(device)
        loss = l_heat + l_off + l_size + args.app_weight * l_app
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        seen += len(frames)
        for k, v in (("loss", loss), ("heat", l_heat), ("off", l_off), ("size", l_size), ("app", l_app)):
            v = float(v.detach())
            run[k] = v if k not in run else 0.95 * run[k] + 0.05 * v
        if step % args.log_every == 0 or step == steps:
            el = time.time() - t0
            cpu = time.process_time() - cpu0
            ch = resource.getrusage(resource.RUSAGE_CHILDREN)
            rec = {"stage": 1, "step": step, "elapsed_s": round(el, 1), "frames_per_s": round(seen / el, 2),
                   "cpu_s": round(cpu, 1), "frames_per_cpu_s": round(seen / max(cpu, 1e-9), 3),
                   "render_cpu_s": round(ch.ru_utime + ch.ru_stime - child0.ru_utime - child0.ru_stime, 1),
                   "lr": sched.get_last_lr()[0], "clips_rendered": buffer.producer.rendered,
                   "clips_swapped": buffer.swapped, **{k: round(v, 4) for k, v in run.items()}}
            if val_clips and (step % args.val_every == 0 or step == steps):
                tv = time.time()
                rec.update({"val_" + k: round(v, 4) for k, v in validate(model, val_clips, device=device).items()})
                rec["val_s"] = round(time.time() - tv, 1)
            log(rec)
        if args.max_minutes and time.time() - t0 > args.max_minutes * 60:
            rec = {"stage": 1, "stopped": "max_minutes", "step": step, "elapsed_s": round(time.time() - t0, 1),
                   "frames_per_s": round(seen / (time.time() - t0), 2), **{k: round(v, 4) for k, v in run.items()}}
            if val_clips:
                rec.update({"val_" + k: round(v, 4) for k, v in validate(model, val_clips, device=device).items()})
            log(rec)
            break
    return model
