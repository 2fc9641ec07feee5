#!/usr/bin/env bash
# The GPU check (issue #15): on a machine with CUDA, install with a CUDA build of torch, score the bundled
# demo with the teacher, distil a student and evaluate it, timing each step. A few minutes on one GPU.
#   bash scripts/gpu_check.sh [OUT]          (OUT: where the workspace and gpu_check.md go; default /tmp/gpu-check)
# Without CUDA it runs the same steps on the CPU (GPU_CHECK_STEPS=2 makes that short), so it can be tried here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/gpu-check}
STEPS=${GPU_CHECK_STEPS:-200}
mkdir -p "$OUT"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  if command -v nvidia-smi >/dev/null; then .venv/bin/pip install -q torch; fi  # the CUDA build, not the CPU pin
  .venv/bin/pip install -q -e .
fi
PY=.venv/bin/python
WS="$OUT/ws"
seconds() { local start=$SECONDS; "$@" >>"$OUT/log.txt" 2>&1; echo $((SECONDS - start)); }
device=$($PY -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')")
score_s=$(seconds $PY -m whisper_curator score "$($PY -c 'from engine.demo import DEMO_MANIFEST; print(DEMO_MANIFEST)')" -w "$WS")
distill_s=$(seconds $PY -m whisper_curator distill "$WS" --out gpu-check --student smaller --max-steps "$STEPS" --eval-every 25)
$PY - "$WS" "$OUT" "$device" "$score_s" "$distill_s" "$STEPS" <<'PYEOF'
import json, sys
from pathlib import Path
from engine.distill.evaluate import format_table
ws, out, device, score_s, distill_s, steps = sys.argv[1:]
report = json.loads((Path(ws) / "runs" / "gpu-check" / "eval.json").read_text())
text = (f"## GPU check on {device}\n\n`bash scripts/gpu_check.sh`: scoring the demo (teacher + default extras + map) "
        f"{score_s} s; distilling a tiny.en student (≤ {steps} steps, early stopping) and evaluating it {distill_s} s.\n\n"
        + format_table(report) + "\n")
(Path(out) / "gpu_check.md").write_text(text)
print(text)
PYEOF
