#!/usr/bin/env bash
# Install Whisper Curator into .venv, score the bundled demo (first run only) and open the app.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e .
exec .venv/bin/python app.py "$@"
