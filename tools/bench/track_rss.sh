#!/usr/bin/env bash
# Memory over a long stream: runs `kvvision track` on a sample looped to N frames (default
# 100,000) and samples the process's RSS every few seconds; prints the samples, the RSS after
# warm-up (10 % of the run) against the end, and whether it stayed within ±5 %.
#
#   tools/bench/track_rss.sh [MODEL] [FRAMES] [SAMPLE]
#
# MODEL: a tracking model file (default: models/shapesworld-v1.safetensors); FRAMES: analysed
# frames (default 100000); SAMPLE: a video looped with `ffmpeg -stream_loop` (stream copy; default
# samples/standard/video.mp4); TRACK_ARGS in the environment: more `track` options (e.g.
# "--precision int8"); KVVISION: the binary (default .build/release/kvvision; a copy keeps a rebuild
# from replacing it mid-run). Needs the ffmpeg CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-models/shapesworld-v1.safetensors} FRAMES=${2:-100000} SAMPLE=${3:-samples/standard/video.mp4}
BIN=${KVVISION:-.build/release/kvvision}
mkdir -p out/bench
per=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$SAMPLE")
loops=$(( (FRAMES + per - 1) / per ))
LONG=out/bench/long-$(basename "$SAMPLE" .mp4)-$loops.mp4
[[ -f $LONG ]] || ffmpeg -v error -y -stream_loop $((loops - 1)) -i "$SAMPLE" -c copy "$LONG"
LOG=out/bench/track_rss.log
: > "$LOG"
start=$(date +%s)
"$BIN" track "$LONG" --model "$MODEL" --max-frames "$FRAMES" --progress never --out /dev/null ${TRACK_ARGS:-} &
pid=$!
while kill -0 $pid 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
    [[ -n $rss ]] && echo "$(( $(date +%s) - start )) $rss" >> "$LOG"
    sleep 5
done
wait $pid
secs=$(( $(date +%s) - start ))
python3 - "$LOG" "$FRAMES" "$secs" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
frames, secs = int(sys.argv[2]), int(sys.argv[3])
warm = [r for r in rows if r[0] >= 0.1 * secs] or rows
base, last, peak = warm[0][1], rows[-1][1], max(r[1] for r in warm)
low = min(r[1] for r in warm)
print(f"frames {frames} in {secs} s ({frames / max(secs, 1):.0f} frames/s), {len(rows)} samples")
print(f"RSS after warm-up {base / 1024:.1f} MiB, at the end {last / 1024:.1f} MiB, range after warm-up "
      f"{low / 1024:.1f}-{peak / 1024:.1f} MiB ({(peak - low) / base * 100:+.1f} % of the first)")
print("flat (±5 %)" if (peak - base) <= 0.05 * base and (base - low) <= 0.05 * base else "NOT flat")
PY
