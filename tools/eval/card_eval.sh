#!/usr/bin/env bash
# Every figure of models/MODEL_CARD.md's Metrics section for one model file, on the test seeds:
#
#   tools/eval/card_eval.sh [MODEL] [OUT]
#
# MODEL (default models/shapesworld-v1.safetensors); OUT (default out/card) receives one JSON per
# row: score-{easy,standard,hard}.json (`kvvision track` + `kvvision eval`, also with
# --min-visibility 0.5), standard at --precision int8 and with f16 / int8 KV windows, and
# peers.json (ByteTrack and OC-SORT from the PyPI `trackers` package on the model's own raw
# detections; their thresholds chosen on validation seeds 8001-8005). Test seeds 9001-9010 only
# (tools/train/seeds.py). Needs a release build and, for the peers, tools/.venv with
# tools/bench/requirements-peers.txt. KVVISION: the binary (default .build/release/kvvision).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-models/shapesworld-v1.safetensors}
OUT=${2:-out/card}
BIN=${KVVISION:-.build/release/kvvision}
SEEDS=9001-9010
mkdir -p "$OUT"
score() {  # NAME PRESET [track args...]
    local name=$1 preset=$2
    shift 2
    python3 tools/eval/score_track.py --model "$MODEL" --kvvision "$BIN" --preset "$preset" --seeds $SEEDS \
        --out "$OUT/clips" --min-visibility 0.5 "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
    python3 - "$OUT/$name.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = d["min_visibility"]
f = lambda x: "-" if x is None else f"{x:.3f}"
print(f"{sys.argv[1]}: AP50 {f(d['ap50_mean'])} MOTA {f(d['mota'])} IDF1 {f(d['idf1'])} IDSW/1000 {d['idsw_per_1000']:.1f} "
      f"actions {f(d['action_accuracy'])} (settled {f(d['action_accuracy_settled'])}) classes {f(d['class_accuracy'])} | "
      f"vis>=0.5: AP50 {f(v['ap50_mean'])} MOTA {f(v['mota'])} IDF1 {f(v['idf1'])} actions {f(v['action_accuracy'])}")
PY
}
for preset in easy standard hard; do score "score-$preset" "$preset"; done
score score-standard-int8 standard --track-arg=--precision=int8
score score-standard-kv-f16 standard --track-arg=--kv-storage=f16
score score-standard-kv-int8 standard --track-arg=--kv-storage=int8
tools/.venv/bin/python tools/bench/peer_trackers.py --model "$MODEL" --kvvision "$BIN" --preset standard \
    --seeds $SEEDS --out "$OUT/peers" > "$OUT/peers.json" 2> "$OUT/peers.log"
tail -n 40 "$OUT/peers.json"
