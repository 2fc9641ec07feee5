"""The bundled demo: score assets/demo into a workspace once, then reuse it."""
from __future__ import annotations

from pathlib import Path

from engine.extras import add_scores, extra_names
from engine.pipeline import score
from engine.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]
DEMO_MANIFEST = ROOT / "assets" / "demo" / "manifest.jsonl"
DEMO_WORKSPACE = ROOT / "work" / "demo"


def demo_workspace(workspace: Path = DEMO_WORKSPACE) -> Path:
    """Score the demo with the teacher and the default extra scores into `workspace` (resuming;
    instant once done) and return its path."""
    with progress_bar("scoring the demo (first run only)") as progress:
        print(score(DEMO_MANIFEST, workspace, progress=progress).line())
    with progress_bar("adding label-free scores (first run only)") as progress:
        add_scores(workspace, extra_names("default"), progress=progress)
    return workspace
