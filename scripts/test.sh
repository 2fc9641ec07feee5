#!/usr/bin/env bash
# Install Whisper Curator with its test extras (and Debian's chromium for the browser tests), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  sudo_if_needed=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $sudo_if_needed apt-get update -q
  $sudo_if_needed apt-get install -y -q chromium chromium-driver
fi
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[test]'
exec .venv/bin/python -m pytest "$@"
