"""Opening any input: which workspace an input opens in, the scoring page's state and failures, logins kept
across the switch to the app, and in a browser an unscored folder scored with live progress, then the app."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import gradio as gr
import httpx
import pytest

from curator.scoring import ScoringState, Server, Stopped, failure_sentence, progress_html
from engine.demo import DEMO_MANIFEST
from engine.scoring.prepare import WORKSPACES, needs_scoring, workspace_for
from testing.browser import FILTER_HISTOGRAM, browser_page, free_port, served
from tests.conftest import dummy_clip, dummy_workspace

LIVE_STAGES = re.compile("scoring with the teacher|adding label-free scores|opening the app")
CLIPS = ("real_0007.wav", "real_0009.flac", "real_0010.flac", "synthetic_0011.mp3")  # 1–3 s each


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_workspace_opens_itself_and_is_scored_only_when_unfinished(tmp_path, cache):
    ws = dummy_workspace(tmp_path / "ws")
    assert workspace_for(ws.root) == ws.root and not needs_scoring(ws.root, ws.root)
    ws.path("scores.parquet").unlink()  # scoring was interrupted: the workspace resumes
    assert workspace_for(ws.root) == ws.root and needs_scoring(ws.root, ws.root)
    assert not cache.exists()


def test_other_inputs_open_a_workspace_named_after_them_in_the_cache(tmp_path, cache):
    folder = tmp_path / "my clips"
    dummy_clip(folder)
    manifest = tmp_path / "set.jsonl"
    manifest.write_text('{"audio_filepath": "my clips/clip.wav"}\n')
    opened = workspace_for(folder)
    assert opened.parent == cache / WORKSPACES and opened.name.startswith("my_clips-")
    assert workspace_for(str(folder) + "/") == opened and workspace_for(folder / ".." / folder.name) == opened
    assert workspace_for(manifest).parent == cache / WORKSPACES and workspace_for(manifest).name.startswith("set-")
    assert len({opened, workspace_for(manifest), workspace_for(tmp_path)}) == 3
    assert needs_scoring(folder, opened)
    assert workspace_for(folder, tmp_path / "chosen") == (tmp_path / "chosen").resolve()
    with pytest.raises(FileNotFoundError, match="input not found"):
        workspace_for(tmp_path / "nothing")


def test_progress_shows_the_stage_count_and_a_failure_as_one_sentence():
    state = ScoringState()
    with state.stage_progress("scoring with the teacher") as progress:
        assert "<progress style" in progress_html(state)  # size not known yet: an indeterminate bar
        progress(3, 8)
        shown = progress_html(state)
        assert '<progress max="8" value="3"' in shown and "scoring with the teacher: 3 of 8 clips" in shown
        state.stop.set()  # the server was closed: scoring stops at its next report
        with pytest.raises(Stopped):
            progress(4, 8)
    state.error = failure_sentence(RuntimeError("CUDA failed <here>\n  a second line"))
    expected = '<p id="scoring-error">⚠ Scoring stopped: RuntimeError: CUDA failed &lt;here&gt;</p>'
    assert progress_html(state) == expected
    assert failure_sentence(FileNotFoundError("input not found: /x")) == "input not found: /x"


def test_a_folder_without_audio_fails_on_the_page_in_one_sentence(tmp_path):
    from playwright.sync_api import expect

    (tmp_path / "empty").mkdir()
    with served(tmp_path / "empty", workspace=tmp_path / "ws") as url, browser_page() as page:
        page.goto(url, wait_until="load")
        expect(page.locator("#scoring-error")).to_have_text(
            f"⚠ Scoring stopped: no audio clips found in {tmp_path / 'empty'}", timeout=60_000)


def test_a_login_survives_the_switch_from_one_blocks_to_the_next():
    port = free_port()
    server = Server(lambda blocks: blocks.launch(server_port=port, auth=("user", "pass"), prevent_thread_lock=True,
                                                 quiet=True, ssr_mode=False))
    pages = []
    for text in ("first", "second"):
        with gr.Blocks() as page:
            gr.Markdown(text)
        pages.append(page)
    try:
        server.show(pages[0])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.post("/login", data={"username": "user", "password": "pass"}).status_code == 200
            assert "first" in client.get("/config").text
            server.show(pages[1])
            assert "second" in client.get("/config").text
            assert httpx.get(f"http://127.0.0.1:{port}/config").status_code == 401
    finally:
        server.close()


def test_an_unscored_folder_shows_progress_then_the_app(tmp_path, artifacts):
    from playwright.sync_api import expect

    for name in CLIPS:
        shutil.copy(DEMO_MANIFEST.parent / "clips" / name, tmp_path / name)
    with served(tmp_path, workspace=tmp_path / "ws") as url, browser_page() as page:
        page.goto(url, wait_until="load")
        page.wait_for_selector("#scoring-progress progress", timeout=30_000)
        expect(page.locator("#scoring-stage")).to_contain_text(LIVE_STAGES)  # the page opened on "starting…"
        page.screenshot(path=str(artifacts / "open-scoring.png"), full_page=True)
        page.wait_for_selector("#summary", timeout=240_000)
        expect(page.locator("#summary")).to_contain_text(f"{len(CLIPS)} clips")
        page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
        page.screenshot(path=str(artifacts / "open-app.png"), full_page=True)
    assert (tmp_path / "ws" / "scores.parquet").is_file()
