"""Trains kvvision's default model from scratch and exports it (tools/train/README.md).

    tools/.venv/bin/python tools/train/train.py --out models/shapesworld-v1.safetensors

runs stage 1 (encoder + det + appearance), stage 2 (asso + act on cached features) and the export,
logging JSON lines to --log. Data: fresh ShapesWorld clips rendered by `kvvision synth` and decoded
by `kvvision frames` as training goes (seeds in seeds.py).
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import seeds  # noqa: E402
from data import ClipBuffer, ClipProducer, render_clip  # noqa: E402
from model import Config, KVVisionModel  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output .safetensors (f16)")
    p.add_argument("--workdir", default=None, help="checkpoints and caches (default: OUT without suffix + '.run')")
    p.add_argument("--log", default=None, help="JSON-lines log (default: WORKDIR/train.log)")
    p.add_argument("--kvvision", default=".build/release/kvvision", help="kvvision binary (synth, frames)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--precision", choices=["auto", "f32", "bf16"], default="auto",
                   help="compute precision of the frame model's forward/backward in stage 1 and the stage-2 "
                        "cache pass (weights, optimiser, losses and validation stay f32). auto: bf16 where "
                        "the hardware has it natively (CPU flags avx512_bf16 or amx_bf16; CUDA bf16), else f32")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (weights init, sampling, preset order)")
    p.add_argument("--stages", default="1,2,export", help="comma list of 1, 2, export")
    p.add_argument("--init", default=None,
                   help="start from this checkpoint (.pt) or exported model (.safetensors, f16 weights read as f32)")
    # stage 1
    p.add_argument("--arch", default="{}",
                   help='JSON object of model.Config overrides, e.g. a lighter det head: '
                        '\'{"neck_channels": 48, "stem_channels": [16, 32, 32], "up_channels": 32}\' '
                        "(written into the exported kvvision.config; the Swift loader reads every size from there)")
    p.add_argument("--stage1-steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--app-weight", type=float, default=0.5)
    p.add_argument("--clip-seconds", type=float, default=5.0)
    p.add_argument("--buffer", type=int, default=12, help="clips held in memory")
    p.add_argument("--refresh-every", type=int, default=4, help="steps between swapping in a fresh clip")
    p.add_argument("--train-start", type=int, default=seeds.TRAIN_START)
    p.add_argument("--val-clips", type=int, default=8)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--max-minutes", type=float, default=0, help="stop stage 1 early after this (0: no limit)")
    # stage 2
    p.add_argument("--stage2-clips", type=int, default=160, help="clips cached for stage 2")
    p.add_argument("--stage2-val-clips", type=int, default=8)
    p.add_argument("--stage2-seconds", type=float, default=8.0)
    p.add_argument("--stage2-steps", type=int, default=6000)
    p.add_argument("--stage2-lr", type=float, default=2e-3)
    p.add_argument("--stage2-jitter", type=float, default=0.02,
                   help="std of the box noise added to each replayed detection, relative to its size")
    p.add_argument("--stage2-drop", type=float, default=0.1, help="share of true detections dropped per replay")
    p.add_argument("--stage2-swap", type=float, default=0.02, help="share of true detections given a wrong owner")
    return p.parse_args(argv)


def native_bf16(device):
    """True when bf16 matmul/conv run natively: a CUDA device that supports it, or a CPU whose flags
    list avx512_bf16 / amx_bf16 (without them the CPU has no native bf16 arithmetic to gain from)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def arch_config(text):
    """`Config()` with the overrides of the JSON object `text`; an unknown key is an error."""
    try:
        over = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"train.py: --arch is not JSON: {e}")
    known = vars(Config())
    if not isinstance(over, dict) or any(k not in known for k in over):
        bad = sorted(set(over) - set(known)) if isinstance(over, dict) else over
        raise SystemExit(f"train.py: --arch: unknown model.Config keys {bad} (known: {', '.join(sorted(known))})")
    return Config(**over)


def load_init(model, sd, log):
    """Loads a checkpoint; `act.*` tensors it lacks or has in another shape (an `--arch` that widens
    the act head, which stage 2 trains from scratch anyway) keep their fresh init. Anything else
    missing or mismatched is an error."""
    own = model.state_dict()
    fresh = sorted(k for k in own if k.startswith("act.") and (k not in sd or sd[k].shape != own[k].shape))
    bad = sorted(k for k in own if k not in fresh and (k not in sd or sd[k].shape != own[k].shape))
    extra = sorted(k for k in sd if k not in own)
    if bad or extra:
        raise SystemExit(f"train.py: --init does not fit the model: missing or reshaped {bad}, unexpected {extra}")
    model.load_state_dict({k: v for k, v in sd.items() if k not in fresh}, strict=False)
    if fresh:
        log({"event": "init_fresh", "tensors": fresh})


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    stem = os.path.splitext(args.out)[0]
    args.workdir = args.workdir or stem + ".run"
    os.makedirs(args.workdir, exist_ok=True)
    log_path = args.log or os.path.join(args.workdir, "train.log")
    stages = args.stages.split(",")
    t_start = time.time()

    def log(rec):
        rec = {"t": round(time.time() - t_start, 1), **rec}
        line = json.dumps(rec)
        print(line, file=sys.stderr, flush=True)
        with open(log_path, "a") as fh:
            fh.write(line + "\n")

    args.bf16 = args.precision == "bf16" or (args.precision == "auto" and native_bf16(args.device))
    log({"event": "start", "argv": sys.argv[1:], "torch": torch.__version__, "threads": args.threads,
         "device": args.device, "precision": "bf16" if args.bf16 else "f32"})
    model = KVVisionModel(arch_config(args.arch)).to(args.device)
    if args.init and args.init.endswith(".safetensors"):
        import export
        load_init(model, export.load(args.init, args.device).state_dict(), log)
    elif args.init:
        load_init(model, torch.load(args.init, map_location=args.device), log)
    ckpt1 = os.path.join(args.workdir, "stage1.pt")
    ckpt2 = os.path.join(args.workdir, "stage2.pt")

    if "1" in stages:
        import stage1
        val = [render_clip(args.kvvision, s, "standard", 4.0, os.path.join(args.workdir, f"val-{s}"))
               for s in seeds.VAL_SEEDS[:args.val_clips]]
        producer = ClipProducer(args.kvvision, args.train_start, args.clip_seconds, rng_seed=args.seed,
                                workdir=os.path.join(args.workdir, "clips"))
        try:
            buffer = ClipBuffer(producer, args.buffer, random.Random(args.seed))
            log({"event": "stage1", "buffer_ready_s": round(time.time() - t_start, 1)})
            stage1.train(model, buffer, val, args, log)
        finally:
            producer.close()
        torch.save(model.state_dict(), ckpt1)
        log({"event": "stage1_done", "checkpoint": ckpt1, "next_train_seed": producer.next_seed})
        args.train_start = producer.next_seed
    if "2" in stages:
        import stage2
        stage2.train(model, args, log)
        torch.save(model.state_dict(), ckpt2)
        log({"event": "stage2_done", "checkpoint": ckpt2})
    if "export" in stages:
        import export
        info = export.export(model, args.out)
        log({"event": "exported", **info})
    log({"event": "done", "total_s": round(time.time() - t_start, 1)})


if __name__ == "__main__":
    main()
