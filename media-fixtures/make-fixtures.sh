#!/usr/bin/env bash
# Regenerates the committed media fixtures (see media-fixtures/README.md) with Debian's ffmpeg
# (`apt-get install ffmpeg`, 5.1). Run: npm run fixtures
#
# Every clip is synthetic (lavfi testsrc2 + sine), tiny and as reproducible as ffmpeg allows:
# bitexact flags, no metadata, single-threaded x264 (x264's output depends on its thread count).
# test/integration/media-fixtures.test.ts checks that the files match the README's table.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ffmpeg="${FFMPEG_PATH:-/usr/bin/ffmpeg}"
[[ -x "$ffmpeg" ]] || {
  echo "make-fixtures: $ffmpeg not found; run: sudo bash scripts/install-system-deps.sh" >&2
  exit 1
}

# Content: 2 s, 320x240 @ 15 fps, one keyframe every 15 frames (1 s GOP -> 2 keyframes), no B-frames;
# audio: 440 Hz sine, AAC-LC mono 16 kHz.
duration=2
fps=15
gop=15
bitexact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)
quiet=(-hide_banner -nostdin -loglevel error -y)

# 1. Progressive MP4 (moov first), H.264 Constrained Baseline + AAC: the source for the other two.
"$ffmpeg" "${quiet[@]}" \
  -f lavfi -i "testsrc2=size=320x240:rate=${fps}:duration=${duration}" \
  -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=${duration}" \
  -map 0:v:0 -map 1:a:0 \
  -c:v libx264 -profile:v baseline -level:v 3.0 -pix_fmt yuv420p -preset veryfast -crf 30 \
  -g "$gop" -keyint_min "$gop" -sc_threshold 0 -bf 0 -threads 1 \
  -c:a aac -ac 1 -ar 16000 -b:a 32k \
  "${bitexact[@]}" -movflags +faststart \
  h264-aac-2s.mp4

# 2. Same streams remuxed to FLV (what an RTMP publisher sends): `ffmpeg -re -i h264-aac-2s.flv -c copy -f flv rtmp://...`.
"$ffmpeg" "${quiet[@]}" -i h264-aac-2s.mp4 -map 0 -c copy "${bitexact[@]}" -f flv h264-aac-2s.flv

# 3. Same video, no audio, remuxed to fragmented MP4: ftyp + empty moov, then one moof+mdat per GOP.
"$ffmpeg" "${quiet[@]}" -i h264-aac-2s.mp4 -map 0:v:0 -c copy "${bitexact[@]}" \
  -movflags frag_keyframe+empty_moov+default_base_moof -f mp4 h264-2s-fmp4.mp4

for file in h264-aac-2s.mp4 h264-aac-2s.flv h264-2s-fmp4.mp4; do
  size=$(stat -c %s "$file")
  if ((size >= 150 * 1024)); then
    echo "make-fixtures: $file is $size bytes; fixtures must stay under 150 KiB" >&2
    exit 1
  fi
  printf 'make-fixtures: %-18s %7d bytes  sha256 %s\n' "$file" "$size" "$(sha256sum "$file" | cut -d' ' -f1)"
done
