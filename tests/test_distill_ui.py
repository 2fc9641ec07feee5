"""The Distill tab in a real browser: a tiny job end to end (progress, a second click refused, a page
reload reattaching, the teacher-vs-student table), then a job cancelled mid-run."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from engine.distill.data import kept_targets
from engine.distill.jobs import CHECKPOINT, running_job
from engine.io.recipe import KeepBest, Recipe, save_recipe
from testing.browser import browser_page, served
from tests.conftest import copy_workspace

LONG = 600_000  # ms: the teacher pass and the evaluation run on a shared 2-core machine


@pytest.fixture(scope="module")
def distill_page(demo_workspace, tmp_path_factory):
    ws = copy_workspace(demo_workspace, tmp_path_factory.mktemp("distill-ui") / "ws")
    save_recipe(ws, Recipe(keep_best=KeepBest("confidence", 11)))  # 6 clips: 5 train, 1 held out
    with served(ws.root) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Distill").click()
        yield ws, page


def _start(page, name: str, max_steps: int, batch_size: int) -> None:
    for field, role, value in (("run-name", "textbox", name), ("max-steps", "spinbutton", max_steps),
                               ("batch-size", "spinbutton", batch_size)):
        box = page.locator(f"#distill-{field}").get_by_role(role)
        box.fill(str(value))
        box.press("Tab")  # commit the value before the click reads the form
        expect(box).to_have_value(str(value))
    page.locator("#distill-button").click()


def _choose(page, student: str, languages: str) -> None:
    """Pick a student kind in the dropdown and fill the languages box."""
    page.locator("#distill-student input").click()
    page.get_by_role("option", name=re.compile(f"^{student}:")).click()
    box = page.locator("#distill-languages").get_by_role("textbox")
    box.fill(languages)
    box.press("Tab")
    expect(box).to_have_value(languages)


def _wait_status(page, ws, text: str | re.Pattern, timeout: int = LONG) -> None:
    """Wait until the status line shows `text`; fail at once, with the job's files, if the job died."""
    status = page.locator("#distill-status")
    deadline = time.time() + timeout / 1000
    while time.time() < deadline:
        shown = status.inner_text()
        if (text.search(shown) if isinstance(text, re.Pattern) else text in shown):
            return
        if "**failed**" in status.inner_html() or "interrupted" in shown:
            break
        page.wait_for_timeout(500)
    raise AssertionError(f"status shows {shown!r}, not {text!r}\n{_job_files(ws)}")


def _job_files(ws) -> str:
    """The tails of every run's status, log and job output (what a failed wait reports)."""
    parts = []
    for run in sorted(ws.path("runs").glob("*/")):
        for name in ("config.yaml", "status.json", "log.txt", "job.out"):
            if (run / name).is_file():
                parts.append(f"--- {run.name}/{name}\n{(run / name).read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)


def test_a_tiny_job_runs_end_to_end(distill_page, artifacts):
    ws, page = distill_page
    page.locator("#distill-kept").get_by_text(f"{len(kept_targets(ws))} clips").wait_for(timeout=30_000)
    _start(page, "ui-run", max_steps=3, batch_size=5)
    _wait_status(page, ws, re.compile(r"step \d/3"))
    page.locator("#distill-button").click()
    page.get_by_text("already running").first.wait_for(timeout=30_000)

    page.reload()
    page.get_by_role("tab", name="Distill").click()
    _wait_status(page, ws, "ui-run")  # the reloaded page found the job again
    _wait_status(page, ws, "done")
    result = page.locator("#distill-result").inner_text()
    assert "Teacher vs student" in result and "parameters" in result and "student-ct2" in result
    assert page.locator("#distill-plot .js-plotly-plot").count() == 1
    assert "held-out loss" in page.locator("#distill-log").get_by_role("textbox").input_value()
    page.screenshot(path=str(artifacts / "distill-tab.png"), full_page=True)


def test_an_experts_job_trains_and_saves_a_model_per_language(distill_page):
    ws, page = distill_page
    _choose(page, "experts", "en")
    _start(page, "ui-experts", max_steps=2, batch_size=5)
    _wait_status(page, ws, "ui-experts")
    _wait_status(page, ws, "done")
    _choose(page, "window", "")  # the form as the other tests expect it
    run = ws.path("runs") / "ui-experts"
    assert "language experts for en on the decoder layers only" in (run / "log.txt").read_text()
    assert "student-ct2-en" in page.locator("#distill-result").inner_text()
    assert (run / "student" / "experts.safetensors").is_file() and (run / "student-ct2-en" / "model.bin").is_file()


def test_cancel_stops_the_job_after_a_checkpoint(distill_page):
    ws, page = distill_page
    _start(page, "ui-cancel", max_steps=500, batch_size=2)
    _wait_status(page, ws, re.compile(r"step \d+/500"))
    page.locator("#distill-cancel").click()
    _wait_status(page, ws, "cancelled", timeout=120_000)
    run = ws.path("runs") / "ui-cancel"
    assert (run / CHECKPOINT).is_file()
    page.wait_for_timeout(2000)
    assert running_job(ws) is None
