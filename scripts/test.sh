#!/usr/bin/env bash
# Install Whisper Curator with its test extras and the Debian packages its tests, benchmarks and browser
# tests call (chromium for Playwright, espeak-ng for the study corpus), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
SYSTEM_PACKAGES="chromium chromium-driver espeak-ng"
missing=$(for p in $SYSTEM_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo_if_needed=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $sudo_if_needed apt-get update -q
  # shellcheck disable=SC2086
  $sudo_if_needed apt-get install -y -q $missing
fi
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[test]'
exec .venv/bin/python -m pytest "$@"
