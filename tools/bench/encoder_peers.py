#!/usr/bin/env python3
"""Peer frame rates for `kvvision bench encoder`: the same timm ViT weights run by PyTorch
(timm forward_features) and by ONNX Runtime, each with a fixed thread count.

  tools/.venv/bin/python tools/bench/encoder_peers.py --model M.safetensors --arch deit_tiny_patch16_224 \
      [--threads 2] [--frames 30] [--runs 5] [--onnx /tmp/model.onnx]

Prints one JSON object: torch_fps, ort_fps (medians over runs), per-run lists, and the max abs
difference between the two outputs (a check that both run the same model).

With --int8, ONNX Runtime also runs its own dynamic int8 quantisation of the same graph
(onnxruntime.quantization.quantize_dynamic, QInt8 weights; the fair int8 peer): ort_int8_fps and
its token error against PyTorch fp32 (relative RMS, ort_int8_rel_rms). With --precision P the
kvvision runs use `bench encoder --precision P`, and the paired rounds include ORT int8 when given.

With --kvvision BIN the three engines are measured in strict alternation, one short run each per
round (kvvision through `BIN bench encoder --runs 1`), and the JSON adds kvvision_fps and the
medians of the per-round ratios (paired_kvvision_over_torch, paired_kvvision_over_ort): on a
shared, noisy machine consecutive runs see similar load, so paired ratios are steadier than
ratios of separate medians.
"""
import argparse
import json
import statistics
import subprocess
import time

import numpy as np
import torch
import timm
from safetensors.torch import load_file


class Features(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m.forward_features(x)


def rate(fn, frames, runs):
    for _ in range(3):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(frames):
            fn()
        out.append(frames / (time.perf_counter() - t))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--arch", default="deit_tiny_patch16_224")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--onnx", default="/tmp/kvvision-encoder-peer.onnx")
    ap.add_argument("--skip-ort", action="store_true")
    ap.add_argument("--kvvision", metavar="BIN", help="alternate with `BIN bench encoder` runs")
    ap.add_argument("--heads", type=int, default=3, help="heads for kvvision (plain timm checkpoint)")
    ap.add_argument("--int8", action="store_true", help="also run ONNX Runtime's quantize_dynamic int8 model")
    ap.add_argument("--precision", default="f32", help="kvvision --precision for the paired runs")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = timm.create_model(a.arch, pretrained=False, num_classes=0)
    model.load_state_dict(load_file(a.model))
    model.eval()
    size = model.patch_embed.img_size
    x = torch.randn(1, 3, size[0], size[1])
    f = Features(model).eval()
    with torch.inference_mode():
        torch_runs = rate(lambda: f(x), a.frames, a.runs)
        ref = f(x).numpy()
    result = {"threads": a.threads, "arch": a.arch, "torch": torch.__version__, "timm": timm.__version__,
              "torch_fps": statistics.median(torch_runs), "torch_fps_runs": torch_runs}
    if not a.skip_ort:
        import onnxruntime as ort
        try:
            torch.onnx.export(f, (x,), a.onnx, input_names=["x"], output_names=["tokens"], opset_version=17, dynamo=False)
        except Exception:  # newer torch: only the dynamo exporter
            torch.onnx.export(f, (x,), a.onnx, input_names=["x"], output_names=["tokens"], dynamo=True)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        xn = x.numpy()
        got = sess.run(None, {"x": xn})[0]
        ort_runs = rate(lambda: sess.run(None, {"x": xn}), a.frames, a.runs)
        result.update({"onnxruntime": ort.__version__, "ort_fps": statistics.median(ort_runs), "ort_fps_runs": ort_runs,
                       "ort_vs_torch_max_abs": float(np.abs(got - ref).max())})
        if a.int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            q_path = a.onnx.replace(".onnx", "") + "-int8.onnx"
            quantize_dynamic(a.onnx, q_path, weight_type=QuantType.QInt8)
            qsess = ort.InferenceSession(q_path, so, providers=["CPUExecutionProvider"])
            qgot = qsess.run(None, {"x": xn})[0]
            q_runs = rate(lambda: qsess.run(None, {"x": xn}), a.frames, a.runs)
            result.update({"ort_int8_fps": statistics.median(q_runs), "ort_int8_fps_runs": q_runs,
                           "ort_int8_rel_rms": float(np.sqrt(((qgot - ref) ** 2).sum() / (ref ** 2).sum()))})
    if a.kvvision:
        kv, to, on, oq = [], [], [], []
        ort_run = (lambda: sess.run(None, {"x": xn})) if not a.skip_ort else None
        q_run = (lambda: qsess.run(None, {"x": xn})) if (a.int8 and not a.skip_ort) else None
        for _ in range(a.runs):
            out = subprocess.run([a.kvvision, "bench", "encoder", "--model", a.model, "--heads", str(a.heads),
                                  "--threads", str(a.threads), "--frames", str(a.frames), "--runs", "1", "--json",
                                  "--precision", a.precision],
                                 check=True, capture_output=True, text=True).stdout
            kv.append(json.loads(out)["fps"])
            with torch.inference_mode():
                to.append(rate(lambda: f(x), a.frames, 1)[0])
            if ort_run:
                on.append(rate(ort_run, a.frames, 1)[0])
            if q_run:
                oq.append(rate(q_run, a.frames, 1)[0])
        result.update({"kvvision_fps": statistics.median(kv), "kvvision_fps_runs": kv, "paired_torch_fps_runs": to,
                       "paired_kvvision_over_torch": statistics.median([k / t for k, t in zip(kv, to)])})
        if on:
            result.update({"paired_ort_fps_runs": on,
                           "paired_kvvision_over_ort": statistics.median([k / o for k, o in zip(kv, on)])})
        if oq:
            result.update({"paired_ort_int8_fps_runs": oq,
                           "paired_kvvision_over_ort_int8": statistics.median([k / o for k, o in zip(kv, oq)])})
        result["kvvision_precision"] = a.precision
    print(json.dumps(result))


if __name__ == "__main__":
    main()
