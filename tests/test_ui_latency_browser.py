"""The browser latency benchmark (benchmarks/ui_latency_browser.py) on a small workspace: it drives the app,
times every release and writes its section of a Markdown file. Its numbers are never asserted: benchmarks are
not timed tests."""
from __future__ import annotations

import math
import sys

from engine.scores import RECOMMENDED
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import ui_latency_browser as bench  # noqa: E402


def test_the_browser_benchmark_times_slider_releases_and_writes_its_section(tmp_path):
    result = bench.measure(clips=2000, releases=5)
    assert (result.clips, result.column, len(result.handler)) == (2000, RECOMMENDED, 6)
    assert all(len(times) == 5 and all(math.isfinite(t) and t > 0 for t in times) for times in result.stages.values())
    stages = result.stages
    assert all(r <= u <= p for r, u, p in zip(stages["response"], stages["updated"], stages["painted"]))

    markdown = tmp_path / "benchmarks.md"
    markdown.write_text("## Before\n\nkept\n\n## UI latency in a browser\n\nold numbers\n\n## After\n\nkept too\n")
    bench.write_section(markdown, bench.TITLE, bench.report(result, 5))
    text = markdown.read_text()
    assert "--clips 2000 --releases 5`" in text and "| the next frame: on screen |" in text
    bench.write_section(markdown, bench.TITLE, "new numbers")
    assert markdown.read_text() == f"## Before\n\nkept\n\n## {bench.TITLE}\n\nnew numbers\n\n## After\n\nkept too\n"
    bench.write_section(markdown, "Appended", "at the end")
    assert markdown.read_text().endswith("## After\n\nkept too\n\n## Appended\n\nat the end\n")
    fresh = tmp_path / "new.md"
    bench.write_section(fresh, bench.TITLE, "body")
    assert fresh.read_text() == f"## {bench.TITLE}\n\nbody\n"
