"""The bundled demo: clips shipped as package data (`engine/demo/data/`, made by assets/make_demo.py),
scored once into a workspace in the user cache, then reused."""
from __future__ import annotations

from pathlib import Path

from engine.io.workspace import SCORES, Workspace
from engine.scoring.prepare import score_input
from engine.teacher.models import cache_dir

DEMO_DATA = Path(__file__).resolve().parent / "data"
DEMO_MANIFEST = DEMO_DATA / "manifest.jsonl"


def default_demo_workspace() -> Path:
    """Where the demo is scored unless told otherwise: `demo/` in the user cache."""
    return cache_dir() / "demo"


def demo_input(workspace: str | Path | None = None) -> tuple[Path, Path]:
    """(what the app opens, its workspace) for the demo: the workspace itself once scored, else the demo
    manifest, scored into it with progress on the page."""
    ws = Workspace(workspace or default_demo_workspace())
    return (ws.root if ws.path(SCORES).is_file() else DEMO_MANIFEST), ws.root


def demo_workspace(workspace: str | Path | None = None) -> Path:
    """Score and map the demo as `whisper-curator score` does (teacher, default extra scores) into `workspace`
    (default: the user cache; resuming; instant once done) and return its path."""
    workspace = Path(workspace) if workspace else default_demo_workspace()
    score_input(DEMO_MANIFEST, workspace)
    return workspace
