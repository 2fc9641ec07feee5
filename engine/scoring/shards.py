"""Shards: the unit of resumable work that the teacher pass and every extra score group share.

Rows are cut into shards of `size` consecutive rows. A shard's file name hashes the work's fingerprint
(model and options) and its rows' keys, so a changed row or model never matches a stale shard; a shard is
done once its table exists, renamed into place after its arrays. A rank of `num_shards` takes every
`num_shards`-th shard.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.io.atomic import remove_stale_temporaries
from engine.io.progress import Progress
from engine.io.workspace import write_array_atomic, write_table_atomic


@dataclass(frozen=True)
class Shards:
    """The shards of one piece of work: their files and the rows each covers."""

    paths: list[Path]
    size: int  # rows per shard (the last may have fewer)
    rows: int  # rows in all

    def span(self, i: int) -> slice:
        return slice(i * self.size, min((i + 1) * self.size, self.rows))

    def mine(self, num_shards: int = 1, shard_index: int = 0) -> list[int]:
        """The shards this rank takes."""
        return [i for i in range(len(self.paths)) if i % num_shards == shard_index]

    def pending(self, num_shards: int = 1, shard_index: int = 0) -> list[int]:
        """The shards this rank takes that are not finished yet."""
        return [i for i in self.mine(num_shards, shard_index) if not self.paths[i].is_file()]

    def size_of(self, i: int) -> int:
        """Rows in shard i."""
        return len(range(self.rows)[self.span(i)])

    def done(self) -> bool:
        return all(p.is_file() for p in self.paths)


def plan_shards(folder: Path, fingerprint: str, keys: list[str], size: int) -> Shards:
    """Shards of `keys` (one string per row) under `folder`, named `NNNNN-<hash>.parquet`."""
    paths = []
    for start in range(0, len(keys), size):
        key = hashlib.sha1((fingerprint + "\n".join(keys[start : start + size])).encode()).hexdigest()[:12]
        paths.append(folder / f"{start // size:05d}-{key}.parquet")
    return Shards(paths, size, len(keys))


def run_shards(shards: Shards, todo: list[int], mine: list[int], work: Callable[[int, Callable[[int], None]], None],
               progress: Progress | None = None) -> None:
    """Call `work(i, on_rows)` for each shard in `todo`; `on_rows(n)` reports n rows of shard i done, and
    `progress` hears (rows done, rows) over every shard in `mine`, finished ones counted as done."""
    folder = shards.paths[0].parent if shards.paths else None
    if folder and folder.is_dir():
        remove_stale_temporaries(folder)  # what a killed writer left
    total = sum(shards.size_of(i) for i in mine)
    done = total - sum(shards.size_of(i) for i in todo)
    for i in todo:
        work(i, lambda n, base=done: progress(base + n, total) if progress else None)
        done += shards.size_of(i)
        if progress:
            progress(done, total)


def write_shard(path: Path, table: pd.DataFrame, arrays: dict[str, np.ndarray]) -> None:
    """Arrays (suffix → array, beside the table) first, then the table: a shard counts as done once its table
    exists."""
    for suffix, values in arrays.items():
        write_array_atomic(path.with_suffix(suffix), values)
    write_table_atomic(path, table)
