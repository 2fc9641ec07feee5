"""The app in a real browser (Debian chromium driven by Playwright) on the scored demo workspace."""
from __future__ import annotations

import io

import pytest
import soundfile as sf

from testing.browser import browser_page, served


@pytest.fixture(scope="module")
def page_on_demo(demo_workspace):
    with served(demo_workspace.root) as url, browser_page() as page:
        page.goto(url)
        page.locator("#totals").get_by_text("Kept").first.wait_for(timeout=60_000)  # the page's load event is done
        page.get_by_role("tab", name="Clips").click()  # the app opens on the Filter tab
        page.wait_for_selector("#clips-table", timeout=30_000)
        yield page


def test_summary_shows_clip_counts_and_statuses(page_on_demo, demo_workspace):
    summary = page_on_demo.locator("#summary").inner_text()
    table = demo_workspace.read_scores()
    assert f"{len(table)} clips" in summary
    assert f"{(table['status'] == 'error').sum()} error" in summary


def test_choosing_a_clip_plays_its_audio(page_on_demo, demo_workspace, artifacts):
    page = page_on_demo
    table = demo_workspace.read_scores()
    clip = table[table["status"] == "ok"].iloc[0]
    other = table[table["status"] != "ok"].iloc[0]  # the demo has bad clips
    for status, shown in ((other["status"], other["id"]), ("ok", clip["id"])):
        # each filter re-renders the table: wait for a row the previous view lacked, or the click hits a row
        # that is being replaced
        page.locator("#status-filter label", has_text=status).click()
        page.locator("#clips-table").get_by_text(shown, exact=True).first.wait_for(timeout=30_000)
    page.locator("#clips-table").get_by_text(clip["id"], exact=True).first.click()
    link = page.locator("#clip-audio a.download-link")
    link.wait_for(timeout=30_000)
    wav = page.request.get(link.get_attribute("href")).body()
    samples, rate = sf.read(io.BytesIO(wav))
    assert len(samples) / rate == pytest.approx(clip["duration"], abs=0.01)
    details = page.locator("#clip-details").inner_text()
    assert clip["id"] in details and "Status: ok" in details and clip["pseudo_label"] in details
    page.screenshot(path=str(artifacts / "clips-tab.png"), full_page=True)


def test_evidence_tab_draws_the_validation(page_on_demo, artifacts):
    page = page_on_demo
    page.get_by_role("tab", name="Evidence").click()
    page.locator("#evidence-roc .main-svg").first.wait_for(timeout=60_000)
    page.locator("#evidence-retention .main-svg").first.wait_for(timeout=60_000)
    assert "combined AUROC" in page.locator("#evidence-summary").inner_text()
    table = page.locator("#evidence-table").inner_text()
    assert "avg_logprob (baseline)" in table and "oracle (reference WER)" in table
    page.screenshot(path=str(artifacts / "evidence-tab.png"), full_page=True)
