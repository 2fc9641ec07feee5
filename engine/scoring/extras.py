"""Running the extra score groups (`engine.extras`) over a scored workspace.

Work is sharded like the teacher pass, under `shards/extras/<name>/`: a shard's
name hashes its clips' ids and pseudo-labels and the extra's model, so a rerun skips finished
shards and a changed label is scored again. Every merge joins the finished shards that match the
current labels into `scores.parquet`, then recomputes `combined`.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from engine.extras import EMBEDDING_COLUMNS, EXTRAS, Batch, ExtraOptions, Scorer
from engine.io.atomic import write_text_atomic
from engine.io.audio import SAMPLE_RATE, AudioError, load_audio
from engine.io.progress import Progress
from engine.io.workspace import EMBEDDINGS, SHARDS, Workspace, write_array_atomic
from engine.scores import combined
from engine.scoring.shards import Shards, plan_shards, run_shards, write_shard

EXTRAS_DIR = f"{SHARDS}/extras"
PLAN = "plan.json"  # the extra's fingerprint and shard size, so merges find its shards (the teacher pass's: names)
SAMPLING_GROUP = "agreement"  # the group whose inputs the teacher pass samples when `score` runs both
SAMPLED = ".sampled.json"  # beside a teacher shard: what it sampled, for the group's fingerprint


def write_sampled(shard: Path, fingerprint: str, sampled: dict[str, list[str]]) -> None:
    """Keep the transcripts a teacher shard sampled (clip id → texts) beside it, before the shard itself."""
    write_text_atomic(shard.with_suffix(SAMPLED), json.dumps({"fingerprint": fingerprint, "sampled": sampled}))


def read_sampled(ws: Workspace, fingerprint: str) -> dict[str, list[str]]:
    """Clip id → the transcripts the current teacher shards sampled for an extra of this fingerprint."""
    plan = ws.path(SHARDS) / PLAN
    out: dict[str, list[str]] = {}
    for name in json.loads(plan.read_text()) if plan.is_file() else []:
        path = (ws.path(SHARDS) / name).with_suffix(SAMPLED)
        content = json.loads(path.read_text()) if path.is_file() else {}
        if content.get("fingerprint") == fingerprint:
            out.update(content["sampled"])
    return out


def scorable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows an extra scores: those the teacher labelled (readable audio of a usable length)."""
    return table[table["pseudo_label"].notna()]


def extra_shards(ws: Workspace, extra: str, fingerprint: str, rows: pd.DataFrame, shard_size: int) -> Shards:
    """The extra's shards of `rows`, named by a hash of their ids, labels and the extra's model."""
    keys = list(rows["id"] + "\t" + rows["pseudo_label"].astype(str))
    return plan_shards(ws.path(EXTRAS_DIR) / extra, fingerprint, keys, shard_size)


def add_scores(
    workspace: str | Path,
    names: Iterable[str],
    options: ExtraOptions = ExtraOptions(),
    shard_size: int = 256,
    num_shards: int = 1,
    shard_index: int = 0,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Compute the named extras for every labelled clip of a scored workspace, resuming finished
    shards; this rank takes every `num_shards`-th shard. Returns the merged table."""
    ws = Workspace(workspace)
    ws.require_scores()
    table = ws.read_scores()
    rows = scorable(table)
    clips = {c.id: c for c in ws.read_clips()}
    groups = []
    for name in names:
        fingerprint = EXTRAS[name].fingerprint(options)
        shards = extra_shards(ws, name, fingerprint, rows, shard_size)
        plan = {"fingerprint": fingerprint, "shard_size": shard_size}
        write_text_atomic(ws.path(EXTRAS_DIR) / name / PLAN, json.dumps(plan))
        groups.append((EXTRAS[name], shards, shards.pending(num_shards, shard_index)))
    total = sum(shards.size_of(i) for _, shards, todo in groups for i in todo)
    offset = 0
    for extra, shards, todo in (g for g in groups if g[2]):
        scorer = extra.load(options)
        sampled = read_sampled(ws, extra.fingerprint(options)) if extra.name == SAMPLING_GROUP else {}

        def work(i: int, on_rows: Callable[[int], None], shards: Shards = shards, scorer: Scorer = scorer,
                 sampled: dict[str, list[str]] = sampled) -> None:
            part = rows.iloc[shards.span(i)]
            columns = score_rows(part, [clips[c].audio_filepath for c in part["id"]], scorer, options.batch_size,
                                 on_rows, sampled)
            arrays = {f".{k}.npy": v.astype(np.float16) for k, v in columns.items() if v.ndim == 2}
            write_shard(shards.paths[i], pd.DataFrame({"id": part["id"].to_numpy(),
                                                       **{k: v for k, v in columns.items() if v.ndim == 1}}), arrays)

        run_shards(shards, todo, todo, work, (lambda n, _, base=offset: progress(base + n, total)) if progress else None)
        offset += sum(shards.size_of(i) for i in todo)
    return merge_extras(ws, table) if num_shards == 1 or _all_done(ws, rows) else table


def score_rows(rows: pd.DataFrame, audio_paths: list[str], scorer: Scorer, batch_size: int,
               on_batch: Callable[[int], None] | None = None,
               sampled: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    """Run a scorer over rows in batches, decoding audio on a thread while the scorer works; `sampled` holds
    what the teacher pass sampled (`Batch.sampled`). A clip whose audio can no longer be read gets NaN (None
    for text) in every column; the run goes on."""
    results: list[dict[str, np.ndarray]] = []
    starts = range(0, len(rows), batch_size)
    with ThreadPoolExecutor(1) as pool:
        loaded = pool.map(lambda s: [readable(p) for p in audio_paths[s : s + batch_size]], starts)
        for start, samples in zip(starts, loaded):
            part = rows.iloc[start : start + batch_size]
            unreadable = np.array([s is None for s in samples])
            samples = [UNREADABLE_STAND_IN if s is None else s for s in samples]
            batch = Batch(list(part["id"]), samples, [str(t) for t in part["pseudo_label"]], list(part["lang"]),
                          [sampled.get(i) for i in part["id"]] if sampled else None)
            results.append(blanked(scorer(batch), unreadable))
            if on_batch:
                on_batch(start + len(part))
    return {k: np.concatenate([r[k] for r in results]) for k in results[0]} if results else {}


UNREADABLE_STAND_IN = np.zeros(SAMPLE_RATE // 10, dtype=np.float32)  # what a scorer sees for a lost file


def readable(path: str) -> np.ndarray | None:
    """The clip's samples, or None when the file cannot be read (moved or damaged since the teacher pass)."""
    try:
        return load_audio(path).samples
    except AudioError:
        return None


def blanked(scores: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """`scores` with `rows` set to NaN (None in non-float columns)."""
    if not rows.any():
        return scores
    out = {}
    for name, values in scores.items():
        values = np.array(values, dtype=values.dtype if np.issubdtype(values.dtype, np.floating) else object)
        values[rows] = np.nan if np.issubdtype(values.dtype, np.floating) else None
        out[name] = values
    return out


def _all_done(ws: Workspace, rows: pd.DataFrame) -> bool:
    return all(extra_shards(ws, name, fingerprint, rows, size).done() for name, (fingerprint, size) in _plans(ws).items())


def _plans(ws: Workspace) -> dict[str, tuple[str, int]]:
    plans = {}
    for name in EXTRAS:
        plan = ws.path(EXTRAS_DIR) / name / PLAN
        if plan.is_file():
            content = json.loads(plan.read_text())
            plans[name] = (content["fingerprint"], content["shard_size"])
    return plans


def merge_extras(ws: Workspace, table: pd.DataFrame) -> pd.DataFrame:
    """Join every extra's finished shards that match the table's current labels, recompute
    `combined`, and write scores.parquet (and any extra embeddings)."""
    rows = scorable(table)
    for name, (fingerprint, size) in _plans(ws).items():
        paths = [p for p in extra_shards(ws, name, fingerprint, rows, size).paths if p.is_file()]
        if not paths:
            continue
        found = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
        table = table.drop(columns=[c for c in found.columns if c != "id" and c in table], errors="ignore")
        table = table.merge(found, on="id", how="left")
        for column, file in EMBEDDING_COLUMNS.items():
            parts = [p.with_suffix(f".{column}.npy") for p in paths]
            if all(p.is_file() for p in parts):
                write_array_atomic(ws.path(EMBEDDINGS) / f"{file}.npy", _aligned(table["id"], found["id"], parts))
    table = combined.with_combined(table)
    ws.write_scores(table)
    return table


def _aligned(all_ids: pd.Series, found_ids: pd.Series, parts: list[Path]) -> np.ndarray:
    """Stack shard embeddings into table row order; rows without one are NaN."""
    found = np.concatenate([np.load(p) for p in parts])
    out = np.full((len(all_ids), found.shape[1]), np.nan, dtype=np.float16)
    position = pd.Series(np.arange(len(found_ids)), index=found_ids.to_numpy())
    have = all_ids.isin(position.index).to_numpy()
    out[have] = found[position[all_ids[have]].to_numpy()]
    return out
