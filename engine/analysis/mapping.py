"""The clip map: every clip placed in 2-D by its teacher audio embedding (UMAP), for the app's Map tab.

UMAP is fitted on at most FIT_ROWS clips sampled at random and the others are transformed, so a large
workspace maps in minutes; clips without an embedding (errors) are left out. The map can also place
clips by what their pseudo-labels say (the `text` score group's embedding), or by both at once.
`score` makes the map by audio (`update_map`) unless the one there is current.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.io.progress import Progress
from engine.io.workspace import EMBEDDINGS, Workspace, write_table_atomic

AUDIO_EMBEDDINGS = f"{EMBEDDINGS}/audio.npy"
MAP_EMBEDDINGS = {"audio": ("audio",), "text": ("text",), "both": ("audio", "text")}  # --embedding → files
MAP = f"{EMBEDDINGS}/map.parquet"
FIT_ROWS = 5000
SEED = 0  # for the fitted sample and UMAP
MIN_ROWS = 5
STEPS = 3  # what audio_map reports: fitted, the rest placed, written


class TooFewToMap(ValueError):
    """Fewer than MIN_ROWS clips have the embedding a map needs."""


def audio_map(ws: Workspace, fit_rows: int = FIT_ROWS, seed: int = SEED, embedding: str = "audio",
              progress: Progress | None = None) -> pd.DataFrame:
    """Compute WS/embeddings/map.parquet (id, x, y) from the `embedding` named in MAP_EMBEDDINGS, write it
    atomically and return it; `progress` hears (step, STEPS)."""
    report = progress or (lambda done, total: None)
    ids = ws.read_scores()["id"].to_numpy()
    embeddings = map_embeddings(ws, embedding, len(ids))
    valid = placeable(embeddings)
    if len(valid) < MIN_ROWS:
        raise TooFewToMap(f"only {len(valid)} clips have an {embedding} embedding; a map needs at least {MIN_ROWS}")
    report(0, STEPS)
    import umap  # seconds to import: only once there is something to map

    fit = np.sort(np.random.default_rng(seed).choice(valid, size=min(fit_rows, len(valid)), replace=False))
    reducer = umap.UMAP(n_neighbors=min(15, len(fit) - 1), metric="cosine", random_state=seed, n_jobs=1)
    coords = np.full((len(ids), 2), np.nan, dtype=np.float32)
    coords[fit] = reducer.fit_transform(embeddings[fit])
    report(1, STEPS)
    rest = np.setdiff1d(valid, fit)
    if len(rest):
        coords[rest] = reducer.transform(embeddings[rest])
    report(2, STEPS)
    table = pd.DataFrame({"id": ids[valid], "x": coords[valid, 0], "y": coords[valid, 1]})
    write_table_atomic(ws.path(MAP), table)
    report(3, STEPS)
    return table


def update_map(ws: Workspace, progress: Progress | None = None) -> str:
    """Make the map by audio embedding unless the one there is current (`map_is_current`), as `score` does;
    a line saying which. Too few clips to map is said, not raised."""
    if map_is_current(ws):
        return f"the map {ws.path(MAP)} is up to date"
    try:
        table = audio_map(ws, progress=progress)
    except TooFewToMap as e:
        return f"no map: {e}"
    return mapped_line(ws, table, "audio")


def mapped_line(ws: Workspace, table: pd.DataFrame, embedding: str) -> str:
    """What `map` and `score` say after making a map."""
    return f"mapped {len(table)} clips by their {embedding} embedding into {ws.path(MAP)}"


def map_is_current(ws: Workspace) -> bool:
    """Whether the map places exactly the clips that one of MAP_EMBEDDINGS can place now: true after
    `score --add` changed only scores (a map by text stays), false when it is missing or clips came or went."""
    points = read_map(ws)
    if points is None:
        return False
    ids, mapped = ws.read_scores()["id"].to_numpy(), set(points["id"])
    for embedding in MAP_EMBEDDINGS:
        try:
            rows = placeable(map_embeddings(ws, embedding, len(ids)))
        except ValueError:  # that embedding is missing or out of step with scores.parquet
            continue
        if mapped == set(ids[rows]):
            return True
    return False


def placeable(embeddings: np.ndarray) -> np.ndarray:
    """Rows with a whole embedding: the clips a map places."""
    return np.flatnonzero(np.isfinite(embeddings).all(axis=1))


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
