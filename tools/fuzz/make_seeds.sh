#!/usr/bin/env bash
# Regenerates the committed video seeds of the fuzzing campaign under tools/fuzz/seeds/.
# Needs the ffmpeg CLI (`tools/dev deps --bench`); the campaign itself only reads the outputs.
# Each seed is 12 frames of testsrc2 at 64x48 so that FFmpeg decodes one fuzzed input in
# milliseconds: H.264 in MP4, Matroska and Annex B, MPEG-4 Part 2 in AVI, VP8 in WebM-Matroska.
set -euo pipefail
cd "$(dirname "$0")/seeds"
src=(-v error -y -f lavfi -i "testsrc2=size=64x48:rate=12:duration=1" -map_metadata -1 -fflags +bitexact)
x264=(-c:v libx264 -preset ultrafast -g 6 -bf 2 -pix_fmt yuv420p -x264-params threads=1)
ffmpeg "${src[@]}" "${x264[@]}" -movflags +faststart seed.mp4
ffmpeg "${src[@]}" "${x264[@]}" seed.mkv
ffmpeg "${src[@]}" "${x264[@]}" -bsf:v h264_mp4toannexb -f h264 seed.h264
ffmpeg "${src[@]}" -c:v mpeg4 -q:v 8 -g 6 -bf 1 seed.avi
ffmpeg "${src[@]}" -c:v libvpx -b:v 100k -g 6 seed-vp8.mkv
ls -l
