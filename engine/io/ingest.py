"""Inputs → Clips: a folder of audio, a NeMo JSONL manifest, a CSV, or a saved HF dataset.

Bad rows never stop ingestion: they become Clips with `problem` set, and scoring reports them.
"""
from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.io.audio import AUDIO_EXTENSIONS
from engine.io.workspace import Clip, clip_id

TEXT_COLUMNS = ("text", "sentence", "transcript", "transcription", "normalized_text")
_HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def read_input(source: str | Path, audio_dir: str | Path) -> list[Clip]:
    """Read `source` into Clips with unique ids.

    `audio_dir` receives audio that only exists as bytes inside a Hugging Face dataset.
    Relative `audio_filepath`s resolve against the manifest's own folder.
    """
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise FileNotFoundError(f"input not found: {source}")
    if source.is_dir() and any((source / m).is_file() for m in _HF_MARKERS):
        rows = _hf_rows(source, Path(audio_dir))
    elif source.is_dir():
        rows = ({"audio_filepath": str(p)} for p in _audio_files(source))
    elif source.suffix.lower() in (".jsonl", ".json"):
        rows = _jsonl_rows(source)
    elif source.suffix.lower() in (".csv", ".tsv"):
        rows = _csv_rows(source)
    else:
        raise ValueError(f"unsupported input {source.name}: give a folder, .jsonl, .csv or a saved HF dataset")
    base = source if source.is_dir() else source.parent
    return _with_unique_ids(_clip(row, base) for row in rows)


def _audio_files(folder: Path) -> list[Path]:
    """Audio files under `folder`; a dangling symlink is listed too, so that it becomes an error row."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and (p.is_file() or p.is_symlink()))


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield {"problem": f"manifest line {number} is not valid JSON ({e.msg})", "_line": number}
                continue
            if not isinstance(row, dict):
                yield {"problem": f"manifest line {number} is not a JSON object", "_line": number}
                continue
            yield {**row, "_line": number}


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for number, row in enumerate(csv.DictReader(f, delimiter=delimiter), 2):
            yield {k: v for k, v in row.items() if k is not None and v not in (None, "")} | {"_line": number}


def _hf_rows(folder: Path, audio_dir: Path) -> Iterator[dict[str, Any]]:
    import datasets

    loaded = datasets.load_from_disk(str(folder))
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    for split, ds in splits:
        audio_col = next((n for n, f in ds.features.items() if isinstance(f, datasets.Audio)), None)
        if audio_col is None:
            raise ValueError(f"the dataset at {folder} has no Audio column")
        ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
        for index, example in enumerate(ds):
            audio = example.pop(audio_col) or {}
            row = {k: v for k, v in example.items() if isinstance(v, (str, int, float, bool))}
            row["audio_filepath"] = _materialised(audio, audio_dir, f"{split or 'data'}-{index}")
            if split:
                row["split"] = split
            yield row


def _materialised(audio: dict[str, Any], audio_dir: Path, name: str) -> str | None:
    """The path of a dataset example's audio, writing embedded bytes into `audio_dir` once."""
    data, path = audio.get("bytes"), audio.get("path")
    if not data:
        return path
    suffix = Path(path).suffix if path and Path(path).suffix else ".wav"
    target = audio_dir / f"{name}-{hashlib.sha1(data).hexdigest()[:10]}{suffix}"
    if not target.is_file():
        audio_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return str(target)


def _clip(row: dict[str, Any], base: Path) -> Clip:
    row = dict(row)
    line = row.pop("_line", None)
    problem = row.pop("problem", None)
    raw_path = row.pop("audio_filepath", None)
    if raw_path is None and problem is None:
        problem = f"manifest line {line} has no audio_filepath" if line else "row has no audio_filepath"
    path = (base / str(raw_path)).resolve() if raw_path is not None else None
    text = next((str(row.pop(c)) for c in TEXT_COLUMNS if row.get(c) not in (None, "")), None)
    explicit_id = row.pop("id", None)
    clip_key = str(path) if path else str(base / f"line-{line}")  # not relative: ids must not depend on the cwd
    return Clip(
        id=str(explicit_id) if explicit_id not in (None, "") else clip_id(clip_key),
        audio_filepath=str(path) if path else "",
        duration=_float_or_none(row.pop("duration", None)),
        text=text,
        lang=str(row.pop("lang")) if row.get("lang") else None,
        problem=problem,
        custom=row,
    )


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _with_unique_ids(clips: Iterable[Clip]) -> list[Clip]:
    seen: dict[str, int] = {}
    out = []
    for clip in clips:
        count = seen.get(clip.id, 0)
        seen[clip.id] = count + 1
        if count:
            clip.problem = clip.problem or f"duplicate id {clip.id!r} (occurrence {count + 1})"
            clip.id = f"{clip.id}~{count + 1}"
        out.append(clip)
    return out
