#!/usr/bin/env bash
# Regenerates the committed media fixtures under Tests/KVVisionTests/Fixtures/media/.
# Needs the ffmpeg CLI (`tools/dev deps --bench`). The test suite itself needs neither this
# script nor ffmpeg: the outputs are committed (each well under 1 MB).
#
#   audio-only.m4a   0.5 s of a 440 Hz sine, AAC in MP4, no video stream (bad-input test)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=Tests/KVVisionTests/Fixtures/media
mkdir -p "$out"
ffmpeg -v error -y -f lavfi -i "sine=frequency=440:duration=0.5:sample_rate=16000" \
    -c:a aac -b:a 24k -ac 1 -map_metadata -1 -fflags +bitexact -flags:a +bitexact "$out/audio-only.m4a"
ls -l "$out"
