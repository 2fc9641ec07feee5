"""Slider latency as a user feels it: the real app in headless chromium on a synthetic 100k-clip workspace.

    python benchmarks/ui_latency_browser.py [--clips 100000] [--releases 40] [--markdown docs/benchmarks.md]

Serves the app on benchmarks/ui_latency.py's synthetic workspace, opens it in Debian's chromium (Playwright,
tests/browser.py) and releases the Filter tab's lower-bound slider at a new value, again and again: the page sets
the range input and fires its `input` and `change` events, as a mouse release does. Each release is timed in the
page with performance.now(), from the events until the totals, the active filters, the overview's kept count and
the histogram's bound line all show the new recipe (a MutationObserver checks), then to the next animation frame:
what the user sees. The page also notes when the server's response arrived (server and HTTP), the rest being
the browser's work (Gradio's update, the SVG histograms' repaint). Prints p50/p95 in milliseconds; --markdown
replaces this benchmark's section of a Markdown file, or appends it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.markdown import write_section  # noqa: E402
from benchmarks.ui_latency import synthetic_workspace  # noqa: E402
from curator import filters  # noqa: E402
from curator.summary import default_column, score_columns  # noqa: E402
from engine.io.recipe import kept_mask, opening_recipe  # noqa: E402
from testing.browser import browser_page, served  # noqa: E402

TITLE = "UI latency in a browser"
GOAL_MS = 150
WATCH_JS = """() => {
  const fetch = window.fetch;
  window.fetch = async (...args) => {
    const response = await fetch(...args);
    window.curatorResponded = performance.now();
    return response;
  };
}"""
RELEASE_JS = """async ({value, kept, column, keptInPlot, bound, active}) => {
  const range = document.querySelector('#filter-min input[type=range]');
  const text = (selector) => document.querySelector(selector)?.textContent || '';
  const checks = {
    totals: () => text('#totals').includes(`Kept ${kept} clips`),
    'active filters': () => text('#active-filters').includes(active),
    overview: () => text(`#filter-overview [data-column="${column}"] .kept`) === String(keptInPlot),
    histogram: () => document.querySelector(
      `#filter-plot svg[data-kept="${keptInPlot}"] line.bound[data-value="${bound}"]`) !== null,
  };
  const waiting = () => Object.keys(checks).filter((name) => !checks[name]());
  return await new Promise((resolve, reject) => {
    const start = performance.now();
    const observer = new MutationObserver(() => {
      if (waiting().length) return;
      observer.disconnect();
      const updated = performance.now();
      requestAnimationFrame(() => resolve({response: window.curatorResponded - start, updated: updated - start,
                                           painted: performance.now() - start}));
    });
    setTimeout(() => { observer.disconnect(); reject(new Error(`no update of ${waiting()} after ${value}`)); }, 30000);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    window.curatorResponded = NaN;
    range.value = String(value);
    range.dispatchEvent(new Event('input', {bubbles: true}));
    range.dispatchEvent(new Event('change', {bubbles: true}));
  });
}"""
STAGES = {"response": "the server's response in the page (handler + Gradio + HTTP)",
          "updated": "totals, active filters, overview and histogram updated",
          "painted": "the next frame: on screen"}


@dataclass
class Latency:
    """One benchmark run: the workspace, and per release the ms from the slider's release to each stage."""

    clips: int
    scores: int
    column: str
    handler: list[float]  # set_bounds alone, in this process, on the same values
    stages: dict[str, list[float]]  # STAGES → one time per release
    load: float  # the machine's 1-minute load average at the end: other work shares the cores

    def percentiles(self, times: list[float]) -> tuple[float, float]:
        return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def release_values(table, column: str, releases: int, seed: int = 0) -> list[float]:
    """Distinct slider positions on the slider's step grid between 5 % and 95 % of its range, shuffled."""
    s = filters.scale(filters.column_values(table, column))
    steps = np.arange(round((s.high - s.low) / s.step) + 1)
    inner = steps[(steps >= 0.05 * steps[-1]) & (steps <= 0.95 * steps[-1])]
    chosen = np.random.default_rng(seed).choice(inner, min(releases, len(inner)), replace=False)
    return [round(s.low + k * s.step, 10) for k in chosen]


def expected(table, column: str, value: float) -> dict:
    """What the page shows once the release at `value` is applied (the arguments of RELEASE_JS)."""
    s = filters.scale(filters.column_values(table, column))
    bound = s.bound(value, "min")
    kept = kept_mask(table, opening_recipe(table).with_bounds(column, min=bound))
    finite = np.isfinite(filters.column_values(table, column))
    return dict(value=value, kept=int(kept.sum()), column=column, keptInPlot=int((kept & finite).sum()),
                bound=f"{bound:g}", active=f"{column} ≥ {bound:.4g}")


def timed_handler(table, column: str, values: list[float]) -> list[float]:
    """ms of the slider's handler alone for each value, after one warm-up call."""
    opening = opening_recipe(table)
    filters.set_bounds(table, opening, column, values[0], None)
    times = []
    for value in values:
        start = time.perf_counter()
        filters.set_bounds(table, opening, column, value, None)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(clips: int, releases: int) -> Latency:
    """Serve a synthetic workspace of `clips` clips and time `releases` slider releases in chromium (+ 1 warm-up)."""
    with tempfile.TemporaryDirectory() as folder:
        ws = synthetic_workspace(Path(folder) / "ws", clips)
        table = ws.table()
        column = default_column(table)
        values = release_values(table, column, releases + 1)
        stages = {stage: [] for stage in STAGES}
        with served(ws.root) as url, browser_page() as page:
            page.goto(url, wait_until="load")
            page.wait_for_selector("#filter-plot svg.histogram", timeout=120_000)
            page.wait_for_selector(f"#filter-overview [data-column='{column}']", timeout=120_000)
            page.evaluate(WATCH_JS)
            for i, value in enumerate(values):
                times = page.evaluate(RELEASE_JS, expected(table, column, value))
                for stage in STAGES if i else ():  # the first release warms up
                    stages[stage].append(times[stage])
        handler = timed_handler(table, column, values)
        return Latency(len(table), len(score_columns(table)), column, handler, stages, os.getloadavg()[0])


def report(result: Latency, releases: int) -> str:
    """The result as Markdown: the command, the setting, a table of p50/p95 and the goal."""
    rows = [("the handler alone (`set_bounds`, in process)", result.handler),
            *((STAGES[stage], times) for stage, times in result.stages.items())]
    lines = [f"`python benchmarks/ui_latency_browser.py --clips {result.clips} --releases {releases}`", "",
             f"{result.clips:,} clips, {result.scores} scores in the overview; the Filter tab's lower-bound slider "
             f"on `{result.column}` released {len(result.stages['painted'])} times at new values; headless chromium "
             f"beside the server on {os.cpu_count()} cores (load average {result.load:.1f}).", "",
             "| from the slider's release to | p50 (ms) | p95 (ms) |", "| --- | --- | --- |"]
    lines += [f"| {name} | {p50:.0f} | {p95:.0f} |" for name, (p50, p95) in
              ((name, result.percentiles(times)) for name, times in rows)]
    p95 = result.percentiles(result.stages["painted"])[1]
    lines += ["", f"- on screen p95 {p95:.0f} ms: {'within' if p95 <= GOAL_MS else 'over'} the goal of {GOAL_MS} ms"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100_000, help="rows in the synthetic workspace")
    parser.add_argument("--releases", type=int, default=40, help="timed slider releases (after one warm-up)")
    parser.add_argument("--markdown", type=Path, help="also write the table into this Markdown file's section")
    args = parser.parse_args()
    text = report(measure(args.clips, args.releases), args.releases)
    print(text)
    if args.markdown:
        write_section(args.markdown, TITLE, text)


if __name__ == "__main__":
    main()
