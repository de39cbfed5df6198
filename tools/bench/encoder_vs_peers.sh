#!/usr/bin/env bash
# kvvision's ViT encoder vs PyTorch (timm forward_features) vs ONNX Runtime on the same
# DeiT-Tiny-shaped random weights and thread count. Medians; rounds alternate the three so that
# machine noise hits them alike. Needs tools/.venv (pip install -r tools/reference/requirements.txt).
#   tools/bench/encoder_vs_peers.sh [THREADS=2] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-2}
ROUNDS=${2:-3}
PY=tools/.venv/bin/python
DIR=${KVV_BENCH_DIR:-/tmp/kvvision-bench-deit}
[ -f "$DIR/deit-tiny.safetensors" ] || $PY tools/reference/make_vit_fixtures.py --deit-tiny "$DIR" >&2
swift build -c release >&2
BIN=.build/release/kvvision
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  $BIN bench encoder --model "$DIR/deit-tiny.safetensors" --heads 3 --threads "$THREADS" --frames 30 --runs 5 --json > "$DIR/kvv-$r.json"
  $PY tools/bench/encoder_peers.py --model "$DIR/deit-tiny.safetensors" --threads "$THREADS" --frames 30 --runs 5 --onnx "$DIR/deit-tiny.onnx" --kvvision "$BIN" > "$DIR/peers-$r.json"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
$PY - "$DIR" "$ROUNDS" "$THREADS" "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" <<'PYEOF'
import json, statistics, sys
d, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(f"machine: {sys.argv[6]} cores; load average before {sys.argv[4]}, after {sys.argv[5]} (figures are only comparable on an idle machine)")
kv = [json.load(open(f"{d}/kvv-{r}.json")) for r in range(1, rounds + 1)]
pe = [json.load(open(f"{d}/peers-{r}.json")) for r in range(1, rounds + 1)]
m = statistics.median
k_fps, t_fps, o_fps = m([x["fps"] for x in kv]), m([x["torch_fps"] for x in pe]), m([x["ort_fps"] for x in pe])
print(f"threads {threads}, {rounds} rounds × 5 runs × 30 frames, OpenBLAS core {kv[0]['blas_core']}")
print(f"kvvision     {k_fps:7.1f} fps  {m([x['gflops'] for x in kv]):6.1f} GFLOP/s  sgemm {m([x['sgemm_gflops'] for x in kv]):6.1f} GFLOP/s  ratio {m([x['ratio'] for x in kv]):.2f}  peak RSS {kv[0]['peak_rss_bytes']/1048576:.0f} MiB")
print(f"PyTorch      {t_fps:7.1f} fps  (torch {pe[0]['torch']}, timm {pe[0]['timm']})   kvvision/PyTorch {k_fps/t_fps:.2f}x")
print(f"ONNX Runtime {o_fps:7.1f} fps  (onnxruntime {pe[0]['onnxruntime']}, max |ort - torch| {pe[0]['ort_vs_torch_max_abs']:.1e})   kvvision/ORT {k_fps/o_fps:.2f}x")
print(f"paired (alternating short runs): kvvision/PyTorch {m([x['paired_kvvision_over_torch'] for x in pe]):.2f}x, kvvision/ORT {m([x['paired_kvvision_over_ort'] for x in pe]):.2f}x")
PYEOF
