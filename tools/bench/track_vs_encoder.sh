#!/usr/bin/env bash
# `kvvision track` against the encoder alone, alternating binaries round by round:
#
#   tools/bench/track_vs_encoder.sh BIN [BIN...]
#
# For each of 3 rounds, each precision (int8, f32) and each BIN: `bench track` on the standard
# sample (3 runs × 250 frames, 2 threads) and `bench encoder` (3 runs × 50 frames, 2 threads),
# one line each. MODEL (default models/shapesworld-v1.safetensors), ROUNDS (default 3) and
# PRECISIONS (default "int8 f32") override. Run on a quiet machine (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-models/shapesworld-v1.safetensors}
[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN...]" >&2; exit 64; }
for round in $(seq 1 "${ROUNDS:-3}"); do
  for p in ${PRECISIONS:-int8 f32}; do
    for b in "$@"; do
      t=$("$b" bench track samples/standard/video.mp4 --model "$MODEL" --runs 3 --threads 2 --precision "$p" 2>&1 | grep -v '^ *$' | tr '\n' ' ')
      echo "round $round $p $b track: ${t#*tensors}"
      e=$("$b" bench encoder --model "$MODEL" --precision "$p" --threads 2 --frames 50 --runs 3 2>&1 | grep '^fps')
      echo "round $round $p $b encoder: $e"
    done
  done
done
