"""The clip map: every clip placed in 2-D by its teacher audio embedding (UMAP), for the app's Map tab.

UMAP is fitted on at most FIT_ROWS clips sampled at random and the others are transformed, so a large
workspace maps in minutes; clips without an embedding (errors) are left out. The map can also place
clips by what their pseudo-labels say (the `text` score group's embedding), or by both at once.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.workspace import EMBEDDINGS, Workspace, write_table_atomic

AUDIO_EMBEDDINGS = f"{EMBEDDINGS}/audio.npy"
MAP_EMBEDDINGS = {"audio": ("audio",), "text": ("text",), "both": ("audio", "text")}  # --embedding → files
MAP = f"{EMBEDDINGS}/map.parquet"
FIT_ROWS = 5000
MIN_ROWS = 5


def audio_map(ws: Workspace, fit_rows: int = FIT_ROWS, seed: int = 0, embedding: str = "audio") -> pd.DataFrame:
    """Compute WS/embeddings/map.parquet (id, x, y) from the `embedding` named in MAP_EMBEDDINGS, write it
    atomically and return it."""
    import umap

    ids = ws.read_scores()["id"].to_numpy()
    embeddings = map_embeddings(ws, embedding, len(ids))
    valid = np.flatnonzero(np.isfinite(embeddings).all(axis=1))
    if len(valid) < MIN_ROWS:
        raise ValueError(f"only {len(valid)} clips have an {embedding} embedding; a map needs at least {MIN_ROWS}")
    fit = np.sort(np.random.default_rng(seed).choice(valid, size=min(fit_rows, len(valid)), replace=False))
    reducer = umap.UMAP(n_neighbors=min(15, len(fit) - 1), metric="cosine", random_state=seed, n_jobs=1)
    coords = np.full((len(ids), 2), np.nan, dtype=np.float32)
    coords[fit] = reducer.fit_transform(embeddings[fit])
    rest = np.setdiff1d(valid, fit)
    if len(rest):
        coords[rest] = reducer.transform(embeddings[rest])
    table = pd.DataFrame({"id": ids[valid], "x": coords[valid, 0], "y": coords[valid, 1]})
    write_table_atomic(ws.path(MAP), table)
    return table


def map_embeddings(ws: Workspace, embedding: str, rows: int) -> np.ndarray:
    """(rows, d) float32: the named embeddings side by side, each row scaled to unit length so that
    audio and text weigh alike; NaN where a clip lacks one."""
    parts = []
    for name in MAP_EMBEDDINGS[embedding]:
        path = ws.path(EMBEDDINGS) / f"{name}.npy"
        if not path.is_file():
            raise ValueError(f"{EMBEDDINGS}/{name}.npy is missing; " + (
                "run `whisper-curator score WS --add text`" if name == "text" else "run `whisper-curator score`"))
        values = np.load(path).astype(np.float32)
        if len(values) != rows:
            raise ValueError(f"{EMBEDDINGS}/{name}.npy has {len(values)} rows but scores.parquet has {rows}; "
                             "rerun `whisper-curator score` on this workspace")
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append(values / np.linalg.norm(values, axis=1, keepdims=True))
    return np.hstack(parts)


def read_map(ws: Workspace) -> pd.DataFrame | None:
    """WS/embeddings/map.parquet, or None when it has not been computed."""
    path = ws.path(MAP)
    return pd.read_parquet(path) if path.is_file() else None
