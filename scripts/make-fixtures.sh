#!/usr/bin/env bash
# Regenerates the fixture videos in data/fixtures/videos/ with the ffmpeg command-line tool.
# Every video is a sequence of solid-colour scenes with hard cuts at known times, listed in
# data/fixtures/videos/scenes.json, so end-to-end tests know where each scene is.
set -euo pipefail
cd "$(dirname "$0")/../data/fixtures/videos"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# scenes.mp4: H.264 + AAC, 320x240 @ 24 fps, 30 s: red 0-10, green 10-20, blue 20-30.
ff -f lavfi -i "color=c=red:s=320x240:r=24:d=10" -f lavfi -i "color=c=green:s=320x240:r=24:d=10" \
   -f lavfi -i "color=c=blue:s=320x240:r=24:d=10" -f lavfi -i "sine=frequency=440:duration=30" \
   -filter_complex "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]" -map "[v]" -map 3:a \
   -c:v libx264 -preset veryfast -crf 30 -g 48 -pix_fmt yuv420p -c:a aac -b:a 32k -movflags +faststart scenes.mp4

# scenes.webm: VP9 in WebM, no audio, 256x144 @ 15 fps, 12 s: yellow 0-4, magenta 4-8, cyan 8-12.
ff -f lavfi -i "color=c=yellow:s=256x144:r=15:d=4" -f lavfi -i "color=c=magenta:s=256x144:r=15:d=4" \
   -f lavfi -i "color=c=cyan:s=256x144:r=15:d=4" \
   -filter_complex "[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]" -map "[v]" \
   -c:v libvpx-vp9 -b:v 50k -deadline realtime -cpu-used 8 -pix_fmt yuv420p scenes.webm

# rotated.mp4: H.264, no audio, coded 320x180 with a 90-degree display rotation, 8 s:
# 0-4 left half red / right half blue as coded (so top red / bottom blue as displayed), 4-8 black.
ff -f lavfi -i "color=c=red:s=160x180:r=24:d=4" -f lavfi -i "color=c=blue:s=160x180:r=24:d=4" \
   -f lavfi -i "color=c=black:s=320x180:r=24:d=4" \
   -filter_complex "[0:v][1:v]hstack[split];[split][2:v]concat=n=2:v=1:a=0[v]" -map "[v]" \
   -c:v libx264 -preset veryfast -crf 30 -pix_fmt yuv420p rotated.mp4
# FFmpeg 5.1 cannot write a display matrix, so set the track header's matrix to a 90-degree
# rotation by hand (what phones write): [0 1 0; -1 0 0; 0 0 1] in 16.16 / 2.30 fixed point.
python3 - <<'PY'
import struct
data = bytearray(open("rotated.mp4", "rb").read())
i = data.find(b"tkhd")
assert i > 0, "no tkhd box"
version = data[i + 4]
matrix_at = i + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
struct.pack_into(">9i", data, matrix_at, 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
open("rotated.mp4", "wb").write(bytes(data))
PY

# odd.mkv: FFV1 in Matroska, odd size 97x61, variable frame rate (10 fps then 25 fps),
# 6 s: orange 0-3, purple 3-6.
ff -f lavfi -i "color=c=orange:s=98x62:r=10:d=3" -f lavfi -i "color=c=purple:s=98x62:r=25:d=3" \
   -filter_complex "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv444p,crop=97:61:0:0,settb=1/1000[v]" -map "[v]" -fps_mode vfr \
   -c:v ffv1 odd.mkv

# truncated.mp4: the first 40% of scenes.mp4 (header intact, data cut short).
size=$(stat -c %s scenes.mp4)
head -c $((size * 4 / 10)) scenes.mp4 > truncated.mp4

# not-a-video.mp4: text with a video extension.
printf 'this is not a video, only text with a .mp4 name\n' > not-a-video.mp4
: > empty.mp4
ls -l
