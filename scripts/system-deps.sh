#!/usr/bin/env bash
# Debian tools the test suites drive as real clients: litmus (WebDAV conformance), rclone
# (sync) and chromium (page tests); and ffmpeg, which Roost runs for video posters
# (thumbnails) when present. Installed only when missing and only when we may (root, apt).
set -euo pipefail
missing=()
command -v litmus >/dev/null 2>&1 || missing+=(litmus)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
# Debian's chromium: the browser the page tests (tests/pages/) drive through Playwright.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from Debian"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})" >&2
  exit 1
fi
