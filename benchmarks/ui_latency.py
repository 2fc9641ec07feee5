"""Latency of the curation handlers on a synthetic 100k-clip workspace (no audio, no model).

    python benchmarks/ui_latency.py [--clips 100000] [--repeats 50]

Times what runs on the server when a user moves a threshold slider (new recipe → kept mask → totals,
histogram, active filters, every score's small histogram), with and without Gradio's serialisation of the
outputs, plus the keep-best control and one page of the Review list. Prints p50/p95 in milliseconds.

In a browser the slider's round trip adds Gradio's HTTP hop and the page's repaint to these numbers:
benchmarks/ui_latency_browser.py times that, release to screen.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curator import filters, review  # noqa: E402
from engine.io.recipe import Recipe  # noqa: E402
from engine.io.workspace import Clip, Workspace  # noqa: E402
from engine.scores import HIGHER_IS_BETTER  # noqa: E402


def synthetic_workspace(root: Path, n: int, seed: int = 0) -> Workspace:
    """n clips with every registry score, 85 % ok / 10 % flagged / 5 % error, references for half."""
    rng = np.random.default_rng(seed)
    ws = Workspace(root)
    ids = [f"clip-{i:06d}" for i in range(n)]
    ws.write_clips([Clip(id=i, audio_filepath=f"/data/{i}.wav", text="a reference" if k % 2 else None)
                    for k, i in enumerate(ids)])
    status = rng.choice(["ok", "flagged", "error"], n, p=[0.85, 0.10, 0.05])
    scores = {col: rng.random(n, dtype=np.float32) for col in HIGHER_IS_BETTER}
    for col in scores.values():
        col[status == "error"] = np.nan
    ws.write_scores(pd.DataFrame({
        "id": ids, "status": status, "reason": np.where(status == "ok", "", "synthetic"),
        "pseudo_label": pd.array(["a pseudo label"] * n, dtype="string"), "lang": "en",
        "duration": rng.uniform(1, 30, n).astype(np.float32), **scores,
    }))
    return ws


def percentiles(fn, repeats: int) -> tuple[float, float]:
    """p50 and p95 wall time of fn(i) in ms, after one warm-up call."""
    fn(0)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000, help="rows in the synthetic workspace")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per handler")
    args = parser.parse_args()

    import gradio as gr

    with tempfile.TemporaryDirectory() as folder:
        table = synthetic_workspace(Path(folder) / "ws", args.clips).table()
    recipe = Recipe().with_bounds("entropy", max=0.9).with_bounds("rms_db", 0.05, 0.95)
    recipe = recipe.with_overrides({f"clip-{i:06d}": "keep" for i in range(0, 2000, 7)})
    positions = np.linspace(0.05, 0.95, args.repeats + 1)
    html, markdown = gr.HTML(), gr.Markdown()

    def slider(i):
        return filters.set_bounds(table, recipe, "confidence", positions[i], None)

    def slider_served(i):
        _, totals, histogram, active, overview = slider(i)
        return (html.postprocess(histogram), markdown.postprocess(totals), markdown.postprocess(active),
                html.postprocess(overview))

    rows = [
        ("slider move (set_bounds)", slider),
        ("slider move + Gradio serialisation", slider_served),
        ("keep-best % (set_options)", lambda i: filters.set_options(table, recipe, "confidence", "all", False,
                                                                     "confidence", 50 + i % 50)),
        ("review page (page_rows)", lambda i: review.page_rows(table, recipe, "rejected", "confidence", "worst", 1 + i)),
    ]
    print(f"{len(table)} clips, {len(recipe.filters) + 1} filters, {len(recipe.overrides)} overrides; "
          f"{args.repeats} calls each")
    for name, fn in rows:
        p50, p95 = percentiles(fn, args.repeats)
        print(f"{name:38s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
