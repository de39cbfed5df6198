#!/usr/bin/env python3
"""Reference fixtures for kvvision's ViT encoder, produced by timm on PyTorch (offline only).

Writes into an output folder (default Tests/KVVisionTests/Fixtures/vit):
  tiny.safetensors          small random timm ViT (dim 64, depth 2, 4 heads, 32x48 input, patch 8),
                            F32, with __metadata__["kvvision.config"]
  tiny-f16.safetensors      the same weights stored as F16 (same metadata)
  input.npy                 [2, 3, 32, 48] float32 normalised input (NCHW)
  expected.npy              timm forward_features of input.npy with the F32 weights  [2, 25, 64]
  expected-f16.npy          the same with the F16-rounded weights
  input-grid.npy / expected-grid.npy        a 40x56 input (grid 5x7 vs trained 4x6): position
                                            embedding resampled by timm (enlarging)
  input-grid-small.npy / expected-grid-small.npy  a 24x40 input (grid 3x5, shrinking)

With --deit-tiny DIR it instead writes a DeiT-Tiny-shaped random checkpoint (timm
deit_tiny_patch16_224, plain timm names, no kvvision metadata), an input and timm's tokens into
DIR (not committed: about 22 MB).  Usage:
  tools/.venv/bin/python tools/reference/make_vit_fixtures.py [--out DIR] [--deit-tiny DIR]
"""
import argparse
import json
import os

import numpy as np
import torch
import timm
from safetensors.torch import save_file


def perturb(model, gen, scale):
    """Random weights well away from timm's tiny init, so every path matters in the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * scale
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1.0 + noise)
            else:
                p.copy_(noise)


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype="<f4"))


def tiny(out):
    gen = torch.Generator().manual_seed(20261123)
    config = {
        "name": "tiny-test-vit", "image_size": [32, 48], "patch_size": 8, "dim": 64, "depth": 2,
        "heads": 4, "mlp_dim": 256, "layer_norm_eps": 1e-6,
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    }
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=(32, 48), patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=4.0,
        qkv_bias=True, num_classes=0, class_token=True, global_pool="token", dynamic_img_size=True)
    model.eval()
    perturb(model, gen, 0.15)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    meta = {"kvvision.config": json.dumps(config), "format": "pt"}
    save_file(sd, os.path.join(out, "tiny.safetensors"), metadata=meta)
    save_file({k: v.half() for k, v in sd.items()}, os.path.join(out, "tiny-f16.safetensors"), metadata=meta)

    def run(m, x):
        with torch.no_grad():
            return m.forward_features(torch.from_numpy(x)).numpy()

    x = torch.randn((2, 3, 32, 48), generator=gen).numpy().astype("<f4")
    save_npy(os.path.join(out, "input.npy"), x)
    save_npy(os.path.join(out, "expected.npy"), run(model, x))
    half = timm.models.vision_transformer.VisionTransformer(
        img_size=(32, 48), patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=4.0,
        qkv_bias=True, num_classes=0, class_token=True, global_pool="token", dynamic_img_size=True)
    half.load_state_dict({k: v.half().float() for k, v in sd.items()})
    half.eval()
    save_npy(os.path.join(out, "expected-f16.npy"), run(half, x))
    for suffix, (h, w) in (("grid", (40, 56)), ("grid-small", (24, 40))):
        xg = torch.randn((1, 3, h, w), generator=gen).numpy().astype("<f4")
        save_npy(os.path.join(out, f"input-{suffix}.npy"), xg)
        save_npy(os.path.join(out, f"expected-{suffix}.npy"), run(model, xg))


def deit_tiny(out):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    model = timm.create_model("deit_tiny_patch16_224", pretrained=False, num_classes=0)
    model.eval()
    perturb(model, gen, 0.05)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "deit-tiny.safetensors"), metadata={"format": "pt"})
    x = torch.randn((2, 3, 224, 224), generator=gen).numpy().astype("<f4")
    save_npy(os.path.join(out, "input.npy"), x)
    with torch.no_grad():
        save_npy(os.path.join(out, "expected.npy"), model.forward_features(torch.from_numpy(x)).numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "KVVisionTests", "Fixtures", "vit"))
    ap.add_argument("--deit-tiny", metavar="DIR")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.deit_tiny:
        deit_tiny(args.deit_tiny)
    else:
        os.makedirs(args.out, exist_ok=True)
        tiny(args.out)


if __name__ == "__main__":
    main()
