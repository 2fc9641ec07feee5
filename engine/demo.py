"""The bundled demo: score assets/demo into a workspace once, then reuse it."""
from __future__ import annotations

from pathlib import Path

from engine.pipeline import score
from engine.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]
DEMO_MANIFEST = ROOT / "assets" / "demo" / "manifest.jsonl"
DEMO_WORKSPACE = ROOT / "work" / "demo"


def demo_workspace(workspace: Path = DEMO_WORKSPACE) -> Path:
    """Score the demo into `workspace` (resuming; instant once done) and return its path."""
    with progress_bar("scoring the demo (first run only)") as progress:
        print(score(DEMO_MANIFEST, workspace, progress=progress).line())
    return workspace
