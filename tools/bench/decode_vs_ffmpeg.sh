#!/usr/bin/env bash
# Decode benchmark: `kvvision bench decode` against FFmpeg's own decode + swscale, same run.
#
#   tools/bench/decode_vs_ffmpeg.sh [RUNS] [INPUT]
#
# RUNS (default 7) alternated runs of each:
#   kvvision bench decode INPUT --size 224x224 --threads 2 --json
#   ffmpeg -threads 2 -i INPUT -vf scale=224:224:flags=bilinear -pix_fmt rgb24 -f null -
# Both decode with 2 threads and scale bilinearly to 224x224 RGB24. Wall time is measured outside
# both processes the same way (process start to exit), frames/s = frames / wall; peak RSS from
# /usr/bin/time -v, which also gives CPU time (user + system): on a shared, loaded machine the
# ratio of CPU seconds is steadier than the ratio of wall times, so both are printed.
# Prints each run, the medians and the ratios kvvision/FFmpeg.
# Without INPUT it makes out/bench/720p.mp4: 10 s of ffmpeg's testsrc2 at 1280x720, 25 fps,
# H.264 (libx264 veryfast, yuv420p).
# Needs the ffmpeg CLI (`tools/dev deps --bench`) and a release build (`swift build -c release`).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${1:-7}
INPUT=${2:-}
BIN=${KVVISION:-$(swift build -c release --show-bin-path)/kvvision}
[[ -x "$BIN" ]] || { echo "no release build at $BIN (swift build -c release)" >&2; exit 1; }
if [[ -z "$INPUT" ]]; then
    INPUT=out/bench/720p.mp4
    if [[ ! -f "$INPUT" ]]; then
        mkdir -p out/bench
        ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -t 10 \
            -c:v libx264 -preset veryfast -pix_fmt yuv420p "$INPUT"
    fi
fi
FRAMES=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$INPUT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
peak_kb() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$1"; }

echo "input: $INPUT ($FRAMES frames), $(nproc) cores, $RUNS alternated runs" >&2
printf '%-4s %10s %10s %10s %10s %10s %10s\n' run kvv_fps ff_fps kvv_cpu_s ff_cpu_s kvv_MiB ff_MiB
kvv_all=() ff_all=() kvv_rss_all=() ff_rss_all=() kvv_cpu_all=() ff_cpu_all=()
for i in $(seq 1 "$RUNS"); do
    t0=$(now)
    /usr/bin/time -v -o "$TMP/kvv.time" "$BIN" bench decode "$INPUT" --size 224x224 --threads 2 --json > "$TMP/kvv.json"
    t1=$(now)
    /usr/bin/time -v -o "$TMP/ff.time" ffmpeg -v error -threads 2 -i "$INPUT" \
        -vf scale=224:224:flags=bilinear -pix_fmt rgb24 -f null -
    t2=$(now)
    kvv_frames=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$TMP/kvv.json")
    [[ "$kvv_frames" == "$FRAMES" ]] || { echo "kvvision decoded $kvv_frames frames, expected $FRAMES" >&2; exit 1; }
    kvv=$(echo "$FRAMES / ($t1 - $t0)" | bc -l)
    ff=$(echo "$FRAMES / ($t2 - $t1)" | bc -l)
    kr=$(echo "$(peak_kb "$TMP/kvv.time") / 1024" | bc -l)
    fr=$(echo "$(peak_kb "$TMP/ff.time") / 1024" | bc -l)
    kc=$(cpu_s "$TMP/kvv.time") fc=$(cpu_s "$TMP/ff.time")
    kvv_all+=("$kvv") ff_all+=("$ff") kvv_rss_all+=("$kr") ff_rss_all+=("$fr") kvv_cpu_all+=("$kc") ff_cpu_all+=("$fc")
    printf '%-4s %10.1f %10.1f %10.2f %10.2f %10.1f %10.1f\n' "$i" "$kvv" "$ff" "$kc" "$fc" "$kr" "$fr"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mk=$(median "${kvv_all[@]}") mf=$(median "${ff_all[@]}")
mkc=$(median "${kvv_cpu_all[@]}") mfc=$(median "${ff_cpu_all[@]}")
printf 'median kvvision %.1f frames/s, ffmpeg %.1f frames/s, ratio %.2fx (wall)\n' "$mk" "$mf" "$(echo "$mk / $mf" | bc -l)"
printf 'median CPU kvvision %.2f s, ffmpeg %.2f s, ratio %.2fx (ffmpeg CPU / kvvision CPU)\n' "$mkc" "$mfc" "$(echo "$mfc / $mkc" | bc -l)"
printf 'median peak RSS kvvision %.1f MiB, ffmpeg %.1f MiB\n' "$(median "${kvv_rss_all[@]}")" "$(median "${ff_rss_all[@]}")"
