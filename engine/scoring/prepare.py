"""Any input → a scored workspace: where the workspace of an input lives, and the resuming run that scores it.

`whisper-curator serve INPUT` and `python app.py INPUT` take a scored workspace or anything `score` takes
(audio folder, NeMo JSONL, CSV, saved Hugging Face dataset). An input that is not a scored workspace is
scored first, into `--workspace` or else into a folder of the user cache named after the input, so that
opening the same input again reopens, or resumes, the same workspace.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from engine.io.progress import Progress, progress_bar
from engine.io.workspace import SCORES, Workspace, clip_id
from engine.scoring.pipeline import score_workspace
from engine.teacher.models import cache_dir

WORKSPACES = "workspaces"  # folder of the user cache holding the workspaces of opened inputs

Stages = Callable[..., AbstractContextManager[Progress]]
"""A stage's description (and unit) → a context yielding its progress callback (like `progress_bar`)."""


def cached_workspaces() -> Path:
    """The folder holding one workspace per opened input that was given without `--workspace`."""
    return cache_dir() / WORKSPACES


def workspace_for(source: str | Path, workspace: str | Path | None = None) -> Path:
    """The workspace to open `source` in: `workspace` when given, `source` itself when it is a
    workspace, else `cached_workspaces()/<source name>-<hash of its resolved path>`."""
    if workspace is not None:
        return Workspace(workspace).root
    if Workspace(source).exists:
        return Workspace(source).root
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    return cached_workspaces() / clip_id(path)  # readable name, stable hash: the same input, the same folder


def needs_scoring(source: str | Path, workspace: str | Path) -> bool:
    """False only when `source` is `workspace` and it is scored; anything else is scored (or resumed) first."""
    ws = Workspace(workspace)
    return not (Workspace(source).root == ws.root and ws.exists and ws.path(SCORES).is_file())


def score_input(source: str | Path, workspace: str | Path, stages: Stages = progress_bar) -> None:
    """What `whisper-curator score` does with its defaults (teacher pass, default extra score groups, map),
    each step skipping what an earlier run finished; `stages(description, unit=...)` gives each step its
    progress callback (default: a console bar). Prints a line as each step ends."""
    for line in score_workspace(source, workspace, bars=stages):
        print(line)
