"""Export the clips a recipe keeps: a NeMo JSONL manifest or a Hugging Face dataset.

Each export is one folder, written in a temporary folder and renamed into place, holding the data plus
`recipe.yaml` (the recipe used, reusable with `--recipe`) and `export.json` (what was written). An
existing folder is replaced only when it is a previous export.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.io.atomic import atomic_path
from engine.io.audio import SAMPLE_RATE
from engine.io.recipe import Recipe, kept_mask
from engine.io.workspace import Workspace

FORMATS = ("nemo", "hf")
NEMO_MANIFEST = "manifest.jsonl"
EXPORT_INFO = "export.json"


@dataclass(frozen=True)
class ExportSummary:
    format: str
    clips: int
    hours: float
    out: str

    def line(self) -> str:
        return f"exported {self.clips} clips ({self.hours:.2f} h) as {self.format} to {self.out}"


def kept_rows(ws: Workspace, recipe: Recipe) -> pd.DataFrame:
    """The kept clips with what an export needs: id, audio_filepath, duration, text (the pseudo-label),
    lang and, when the manifest has them, reference."""
    table = ws.table()
    kept = table[kept_mask(table, recipe)]
    rows = pd.DataFrame({
        "id": kept["id"].astype(str),
        "audio_filepath": kept["audio_filepath"].astype(str),
        "duration": kept["duration"].astype("float64").round(4),
        "text": kept["pseudo_label"].fillna("").astype(str),
        "lang": kept["lang"].fillna("").astype(str),
    })
    if kept["text"].notna().any():
        rows["reference"] = kept["text"].astype(object).where(kept["text"].notna(), None)
    return rows.reset_index(drop=True)


def export(ws: Workspace, recipe: Recipe, format: str, out: str | Path) -> ExportSummary:
    """Write the kept set to folder `out` as `format` ("nemo" or "hf") and describe what was written."""
    if format not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {format!r}")
    out = Path(out).expanduser().resolve()
    _check_replaceable(out)
    rows = kept_rows(ws, recipe)
    if rows.empty:
        raise ValueError("the recipe keeps no clips; loosen a threshold or include flagged clips before exporting")
    summary = ExportSummary(format, len(rows), float(np.nansum(rows["duration"]) / 3600), str(out))
    with atomic_path(out) as tmp:
        (_write_nemo if format == "nemo" else _write_hf)(rows, tmp)
        (tmp / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
        info = {**asdict(summary), "workspace": str(ws.root)}
        (tmp / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return summary


def _check_replaceable(out: Path) -> None:
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / EXPORT_INFO).is_file()):
        raise ValueError(f"{out} exists and is not an earlier export; choose a new or empty folder")


def _write_nemo(rows: pd.DataFrame, folder: Path) -> None:
    folder.mkdir()
    records = rows.to_dict("records")
    with open(folder / NEMO_MANIFEST, "w", encoding="utf-8") as f:
        for record in records:
            if record.get("reference") is None:
                record.pop("reference", None)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_hf(rows: pd.DataFrame, folder: Path) -> None:
    """`save_to_disk` embeds the audio files' bytes, so the dataset is self-contained; `audio_filepath`
    keeps the original path. Audio decodes at 16 kHz (resampled on access)."""
    from datasets import Audio, Dataset

    names = ["audio", "text", "lang", "duration", "id", "audio_filepath"] + (["reference"] if "reference" in rows else [])
    columns = {name: rows["audio_filepath" if name == "audio" else name].tolist() for name in names}
    dataset = Dataset.from_dict(columns).cast_column("audio", Audio(sampling_rate=SAMPLE_RATE, decode=False))
    dataset.save_to_disk(str(folder))
