"""Exports the trained model as one f16 safetensors with `kvvision.config` (docs/model.md)."""

import hashlib
import json
import os

import torch
from safetensors.torch import load_file, save_file

from data import ACTIONS, CLASSES
from model import MEAN, STD, Config, KVVisionModel, gmacs

TRACKER_DEFAULTS = {
    "high_score": 0.4,  # first association pass and new tracks
    "low_score": 0.1,  # second pass (ByteTrack-style) floor
    "asso_weight": 0.5,  # cost = w (1 - P) + (1 - w) (1 - IoU with the constant-velocity prediction)
    "max_cost": 0.8,
    "min_hits": 2,  # a track is reported from its second hit on
    "max_lost": 75,  # frames a lost track is kept re-identifiable
    "class_gated": True,
}


def config_json(c, name="shapesworld-v1"):
    return {
        "name": name,
        "image_size": list(c.image_size), "patch_size": c.patch_size, "dim": c.dim, "depth": c.depth,
        "heads": c.heads, "mlp_dim": c.mlp_dim, "layer_norm_eps": 1e-6, "mean": list(MEAN), "std": list(STD),
        "class_names": CLASSES, "action_names": ACTIONS,
        "det": {"stride": c.stride, "up_channels": c.up_channels, "stem_channels": c.stem_channels,
                    "neck_channels": c.neck_channels, "peak_kernel": 3, "top_k": c.top_k, "min_score": c.min_score},
        "tok": {"app_channels": c.app_channels, "app_grid": 3, "app_hidden": c.app_hidden, "app_dim": c.app_dim,
                    "mot_inputs": c.mot_inputs, "mot_hidden": c.mot_hidden, "mot_dim": c.mot_dim, "token_dim": c.token_dim},
        "asso": {"dim": c.asso_dim, "heads": 1, "rope": False, "window": c.window},
        "act": {"heads": c.act_heads, "kv_heads": c.act_kv_heads, "head_dim": c.act_head_dim, "rope_base": 10000.0,
                    "hidden": c.act_hidden, "window": c.window},
        "tracker": TRACKER_DEFAULTS,
    }


def tensors(model):
    out = {}
    for k, v in model.state_dict().items():
        name = k[len("encoder."):] if k.startswith("encoder.") else k
        out[name] = v.detach().to(torch.float16).contiguous().cpu()
    return out


def export(model, path, name="shapesworld-v1"):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    t = tensors(model)
    meta = {"kvvision.config": json.dumps(config_json(model.c, name), sort_keys=True), "format": "pt"}
    save_file(t, path, metadata=meta)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return {"path": path, "bytes": os.path.getsize(path), "tensors": len(t), "sha256": digest,
            "params": int(sum(v.numel() for v in t.values())), "gmac": gmacs(model.c)}


def load(path, device="cpu"):
    """Loads an exported file back into PyTorch (f16 weights to f32), strictly."""
    t = load_file(path)
    model = KVVisionModel(Config()).to(device)
    sd = {}
    for k, v in t.items():
        name = k if k.split(".")[0] in ("det", "tok", "asso", "act") else "encoder." + k
        sd[name] = v.to(torch.float32)
    model.load_state_dict(sd, strict=True)
    return model
