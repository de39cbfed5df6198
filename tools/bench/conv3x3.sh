#!/usr/bin/env bash
# The det head's f32 3×3 convs (kvv_conv3x3_rows) at each revision, alternated round by round:
#
#   tools/bench/conv3x3.sh [REV...]        (default: the working tree)
#
# Builds tools/bench/conv3x3_bench.c against each REV's Sources/CKernels (git archive; "." is
# the working tree; a REV from 4240314 on, which introduced kvv_conv3x3_rows) with the package's flags (clang -O2) and runs it warm and cold, ROUNDS (default 3)
# times. The "bits" hash must agree between revisions that claim the same output bits.
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-clang}
command -v "$CC" >/dev/null || CC=/opt/swift/usr/bin/clang
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
revs=("$@")
[ ${#revs[@]} -gt 0 ] || revs=(.)
for rev in "${revs[@]}"; do
    d="$work/${rev//\//_}"
    mkdir -p "$d"
    if [ "$rev" = . ]; then cp -r Sources/CKernels "$d/"; else git archive "$rev" Sources/CKernels | tar -x -C "$d" --strip-components=1; fi
    "$CC" -O2 -I"$d/CKernels/include" -o "$d/bench" tools/bench/conv3x3_bench.c "$d/CKernels/kernels.c" -lm
done
for round in $(seq 1 "${ROUNDS:-3}"); do
    for rev in "${revs[@]}"; do
        for mode in warm cold; do
            echo "round $round $rev: $("$work/${rev//\//_}/bench" "$mode" | awk '/^total/ {print; next} {printf "%s %s | ", $1, $2}')"
        done
    done
done
