"""Measures training and inference throughput of the default model, in frames per wall second and
per CPU second (the latter is what a shared, loaded machine can still measure), and the CPU cost
of rendering + decoding a clip with kvvision.

    nice -n 10 tools/.venv/bin/python tools/train/throughput.py [--threads 2] [--steps 4] [--precision f32|bf16]
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from data import render_clip  # noqa: E402
from model import KVVisionModel  # noqa: E402
from stage1 import det_targets, focal_loss  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--kvvision", default=".build/release/kvvision")
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32", help="as train.py's (no auto here)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = KVVisionModel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (a.batch, 240, 320, 3), dtype=np.uint8))
    boxes = [np.array([[100, 80, 40, 40, 1], [200, 150, 30, 50, 2]], np.float32)] * a.batch
    heat, _ = det_targets(boxes, model.c)
    heat = torch.from_numpy(heat)

    bf16 = a.precision == "bf16"

    def step():
        out = model.spatial(model.normalise(frames), bf16=bf16)
        loss = focal_loss(out["heat"], heat) + out["size"].abs().mean() + out["app_map"].abs().mean() * 0
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    w0, c0 = time.time(), time.process_time()
    for _ in range(a.steps):
        step()
    tw, tc = time.time() - w0, time.process_time() - c0
    n = a.steps * a.batch
    model.eval()
    with torch.no_grad():
        model.spatial(model.normalise(frames), bf16=bf16)
        w0, c0 = time.time(), time.process_time()
        for _ in range(a.steps):
            model.spatial(model.normalise(frames), bf16=bf16)
        iw, ic = time.time() - w0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as d:
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.time()
        clip = render_clip(a.kvvision, 1, "standard", 5.0, os.path.join(d, "c"))
        rw = time.time() - w0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rc = ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime
    print(json.dumps({
        "threads": a.threads, "batch": a.batch, "precision": a.precision, "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
        "load_avg_1min": float(open("/proc/loadavg").read().split()[0]),
        "train_frames_per_s": round(n / tw, 2), "train_frames_per_cpu_s": round(n / tc, 3),
        "infer_frames_per_s": round(n / iw, 2), "infer_frames_per_cpu_s": round(n / ic, 3),
        "render_decode_frames_per_s": round(clip.length / rw, 1), "render_decode_frames_per_cpu_s": round(clip.length / rc, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
