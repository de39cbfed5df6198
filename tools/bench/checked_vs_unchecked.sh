#!/usr/bin/env bash
# Paired benchmark of two kvvision release binaries (a checked -O build against an -Ounchecked
# build of the same commit): encoder, temporal step, decode and a large eval, alternating the
# binaries every round so the shared machine's load hits both alike. Prints per-round figures
# and medians; ratios are checked / unchecked (> 1 means the checked build is faster).
#
#   tools/bench/checked_vs_unchecked.sh CHECKED_BIN UNCHECKED_BIN [ROUNDS]
#
# Needs the ffmpeg CLI (makes out/bench/720p.mp4 as decode_vs_ffmpeg.sh does) and python3
# (writes a 20,000-frame × 12-object ground truth and prediction under out/bench/eval-large/).
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1 B=$2 ROUNDS=${3:-5}
mkdir -p out/bench
if [[ ! -f out/bench/720p.mp4 ]]; then
    ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -t 10 \
        -c:v libx264 -preset veryfast -pix_fmt yuv420p out/bench/720p.mp4
fi
if [[ ! -f out/bench/eval-large/gt.txt ]]; then
    mkdir -p out/bench/eval-large
    python3 - <<'PY'
import random
r = random.Random(5)
gt, pred = [], []
for f in range(1, 20001):
    for i in range(1, 13):
        x, y = (i * 37 + f * (i % 3)) % 900, (i * 53 + f) % 500
        vis = 0.0 if r.random() < 0.05 else 1.0
        gt.append(f"{f},{i},{x},{y},40,60,1,1,{vis:.3f}")
        if r.random() < 0.9:
            pid = i + 100 * (f // 700 % 2 if i % 4 == 0 else 0)
            pred.append(f"{f},{pid},{x + r.uniform(-4, 4):.2f},{y + r.uniform(-4, 4):.2f},40,60,{r.random():.3f},-1,-1,-1")
    if r.random() < 0.3:
        pred.append(f"{f},999,{r.uniform(0, 900):.2f},{r.uniform(0, 500):.2f},30,30,0.2,-1,-1,-1")
open("out/bench/eval-large/gt.txt", "w").write("\n".join(gt) + "\n")
open("out/bench/eval-large/pred.txt", "w").write("\n".join(pred) + "\n")
PY
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
run_one() {  # BIN TAG ROUND
    local bin=$1 tag=$2 r=$3
    local cpu=(/usr/bin/time -f "%U %S %M")
    "${cpu[@]}" -o "$TMP/enc-$tag-$r.cpu" "$bin" bench encoder --shape deit-tiny --threads 1 --frames 20 --runs 3 --json > "$TMP/enc-$tag-$r.json"
    "${cpu[@]}" -o "$TMP/tmp-$tag-$r.cpu" "$bin" bench temporal --windows 16 --runs 5 --json > "$TMP/tmp-$tag-$r.json"
    "${cpu[@]}" -o "$TMP/dec-$tag-$r.cpu" "$bin" bench decode out/bench/720p.mp4 --size 224x224 --threads 1 --runs 2 --json > "$TMP/dec-$tag-$r.json"
    "${cpu[@]}" -o "$TMP/eval-$tag-$r.cpu" "$bin" eval --gt out/bench/eval-large/gt.txt --pred out/bench/eval-large/pred.txt --json > "$TMP/eval-$tag-$r.json" 2>/dev/null
}
for r in $(seq 1 "$ROUNDS"); do
    if (( r % 2 )); then run_one "$A" checked "$r"; run_one "$B" unchecked "$r"
    else run_one "$B" unchecked "$r"; run_one "$A" checked "$r"; fi
    echo "round $r done" >&2
done
python3 - "$TMP" "$ROUNDS" <<'PY'
import json, sys, statistics as st
d, n = sys.argv[1], int(sys.argv[2])
def load(kind, tag, r): return json.load(open(f"{d}/{kind}-{tag}-{r}.json"))
def temporal_step(j):
    for w in j.get("windows", j.get("results", [])):
        if w.get("window", w.get("w")) == 16: return w.get("step_ms")
    raise SystemExit("no W=16 step in temporal JSON: " + json.dumps(j)[:300])
def cpu(kind, t, r):
    u, s, m = open(f"{d}/{kind}-{t}-{r}.cpu").read().split()[-3:]
    return float(u) + float(s)
rows = {"encoder fps (in-process median)": lambda t, r: load("enc", t, r)["fps"],
        "encoder process CPU s": lambda t, r: cpu("enc", t, r),
        "temporal step ms (W=16, in-process median)": lambda t, r: temporal_step(load("tmp", t, r)),
        "temporal process CPU s": lambda t, r: cpu("tmp", t, r),
        "decode fps (720p→224², 1 thread, in-process)": lambda t, r: load("dec", t, r)["fps"],
        "decode process CPU s": lambda t, r: cpu("dec", t, r),
        "eval process CPU s (20k frames × 12 ids)": lambda t, r: cpu("eval", t, r)}
for name, get in rows.items():
    c = [get("checked", r) for r in range(1, n + 1)]
    u = [get("unchecked", r) for r in range(1, n + 1)]
    higher_better = "fps" in name
    pair = [(a / b if higher_better else b / a) for a, b in zip(c, u)]
    print(f"{name}: checked {st.median(c):.4g}, unchecked {st.median(u):.4g}; "
          f"checked/unchecked speed: medians {((st.median(c)/st.median(u)) if higher_better else (st.median(u)/st.median(c))):.3f}, "
          f"paired median {st.median(pair):.3f} (rounds {', '.join(f'{p:.3f}' for p in pair)})")
PY
