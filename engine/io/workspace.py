"""The workspace: one folder holding a dataset's manifest, scores, embeddings and recipe.

Every part of Whisper Curator reads and writes these files (see DESIGN.md):

    manifest.jsonl      one Clip per line (id, audio_filepath, duration, text, lang, custom)
    scores.parquet      one row per clip: id, status, reason, pseudo_label, lang, duration, scores
    shards/             partial score tables, each renamed into place when complete
    embeddings/         audio.npy, text.npy (row order = scores.parquet), map.parquet
    recipe.yaml         thresholds and overrides
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.io.atomic import write_bytes_atomic, write_text_atomic

MANIFEST = "manifest.jsonl"
SCORES = "scores.parquet"
SHARDS = "shards"
EMBEDDINGS = "embeddings"
RECIPE = "recipe.yaml"

STATUSES = ("ok", "flagged", "error")
BASE_COLUMNS = ("id", "status", "reason", "pseudo_label", "lang", "duration")


@dataclass
class Clip:
    """One audio clip and what is known about it before scoring."""

    id: str
    audio_filepath: str  # absolute path
    duration: float | None = None
    text: str | None = None  # reference transcript, when the input has one
    lang: str | None = None  # language stated by the input
    problem: str | None = None  # why the input row itself is unusable (set by ingest)
    custom: dict[str, Any] = field(default_factory=dict)  # other input fields, kept as they came

    def to_dict(self) -> dict[str, Any]:
        row = {k: v for k, v in asdict(self).items() if v is not None and k != "custom"}
        return {**row, **self.custom} if self.custom else row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Clip:
        known = {k: row[k] for k in ("id", "audio_filepath", "duration", "text", "lang", "problem") if k in row}
        custom = {k: v for k, v in row.items() if k not in known}
        return cls(**known, custom=custom)


def clip_id(path: str | Path, offset: float = 0.0) -> str:
    """A stable id: the file stem for readability plus a hash of the resolved path and offset."""
    path = Path(path)
    digest = hashlib.sha1(f"{path.resolve()}|{offset:.3f}".encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)[:40]
    return f"{stem}-{digest}"


class Workspace:
    """Paths and atomic reads/writes of one workspace folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def path(self, name: str) -> Path:
        return self.root / name

    @property
    def exists(self) -> bool:
        return self.path(MANIFEST).is_file()

    def write_clips(self, clips: list[Clip]) -> None:
        lines = (json.dumps(c.to_dict(), ensure_ascii=False) for c in clips)
        write_text_atomic(self.path(MANIFEST), "".join(line + "\n" for line in lines))

    def read_clips(self) -> list[Clip]:
        with open(self.path(MANIFEST), encoding="utf-8") as f:
            return [Clip.from_dict(json.loads(line)) for line in f if line.strip()]

    def write_scores(self, table: pd.DataFrame) -> None:
        write_table_atomic(self.path(SCORES), table)

    def read_scores(self) -> pd.DataFrame:
        return pd.read_parquet(self.path(SCORES))

    def require_scores(self) -> None:
        """Raise a readable error when the workspace has not been scored yet."""
        if not self.path(SCORES).is_file():
            raise FileNotFoundError(f"{self.root} has no {SCORES}; run `whisper-curator score INPUT --workspace {self.root}` first")

    def table(self) -> pd.DataFrame:
        """Scores joined with the manifest's audio path and reference text, one row per clip."""
        scores = self.read_scores()
        clips = pd.DataFrame(
            [{"id": c.id, "audio_filepath": c.audio_filepath, "text": c.text} for c in self.read_clips()]
        )
        return scores.merge(clips, on="id", how="left")


def write_table_atomic(path: str | Path, table: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomic(path, buffer.getvalue())


def write_array_atomic(path: str | Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())
