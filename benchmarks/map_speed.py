"""How long the Map takes to compute: UMAP fitted on a sample and the rest transformed (ours) against
UMAP fitted on every clip (the baseline), on synthetic clustered 512-d embeddings, in one run.

    python benchmarks/map_speed.py [--rows 100000] [--baseline-rows 20000] [--markdown FILE]

Goal (issue #5): 100k clips mapped in ≤ 60 s on 2 cores. numba's JIT compile is paid once, before timing.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engine.analysis.mapping import AUDIO_EMBEDDINGS, FIT_ROWS, audio_map
from engine.io.workspace import Workspace, write_array_atomic

DIM = 512  # Whisper base's encoder width
CLUSTERS = 40


def synthetic_workspace(root: Path, rows: int, seed: int = 0) -> Workspace:
    """A workspace holding only what the map reads: ids and clustered float16 embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM))
    embeddings = centres[rng.integers(CLUSTERS, size=rows)] + rng.normal(scale=0.6, size=(rows, DIM))
    ws = Workspace(root)
    ws.write_scores(pd.DataFrame({"id": [f"clip-{i}" for i in range(rows)]}))
    write_array_atomic(ws.path(AUDIO_EMBEDDINGS), embeddings.astype(np.float16))
    return ws


def timed_map(rows: int, fit_rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ws = synthetic_workspace(Path(tmp), rows)
        started = time.perf_counter()
        audio_map(ws, fit_rows=fit_rows)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="clips to map with the sampled fit")
    parser.add_argument("--baseline-rows", type=int, default=20_000, help="clips for the fit-on-everything comparison")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    timed_map(600, 500)  # numba JIT warm-up of fit and transform, not timed
    baseline = timed_map(args.baseline_rows, args.baseline_rows)
    ours_same = timed_map(args.baseline_rows, FIT_ROWS)
    ours_large = timed_map(args.rows, FIT_ROWS)
    lines = [f"Synthetic clustered {DIM}-d embeddings; UMAP (cosine, 15 neighbours, n_jobs=1); fit sample {FIT_ROWS}.", "",
             "| route | clips | seconds |", "| --- | --- | --- |",
             f"| baseline: fit on every clip | {args.baseline_rows:,} | {baseline:.1f} |",
             f"| ours: fit on {FIT_ROWS:,}, transform the rest | {args.baseline_rows:,} | {ours_same:.1f} |",
             f"| ours: fit on {FIT_ROWS:,}, transform the rest | {args.rows:,} | {ours_large:.1f} |", "",
             f"- at {args.baseline_rows:,} clips ours takes {ours_same / baseline:.2f}x the baseline's time",
             f"- {args.rows:,} clips in {ours_large:.1f} s (goal ≤ 60 s)"]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        args.markdown.write_text(f"## Map (UMAP) speed\n\n`python benchmarks/map_speed.py --rows {args.rows} "
                                 f"--baseline-rows {args.baseline_rows}`\n\n{report}\n")


if __name__ == "__main__":
    main()
