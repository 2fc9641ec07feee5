"""The served app: no file outside Gradio's own cache leaves the machine (absolute paths, `..`, symlinks,
manifest rows pointing at /etc/passwd, other URLs), uploads are bounded, a host beyond this machine needs
--auth or --insecure, and two browser sessions saving one recipe see each other's saves."""
from __future__ import annotations

import contextlib
import subprocess
import time

import httpx
import pytest

from curator.app import launch
from engine.io.recipe import load_recipe
from testing.browser import FILTER_HISTOGRAM, browser_page, free_port, served
from testing.server import SECRET, get, hostile_paths, hostile_workspace, serve_command
from tests.conftest import ROOT, dummy_workspace

UPLOAD_TYPES = {"file", "uploadbutton", "image", "imageeditor", "video", "model3d", "multimodaltextbox", "gallery"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    ws, secret = hostile_workspace(tmp_path_factory.mktemp("server"))
    with served(ws.root) as url:
        yield url, ws, secret


def test_no_path_outside_the_cache_is_served(app):
    url, ws, secret = app
    served_files = []
    for path in hostile_paths(url, ws, secret):
        status, body = get(url, path)
        if status == 200 or SECRET.encode() in body or b"root:" in body:
            served_files.append(f"{path} -> {status} {body[:60]!r}")
    assert served_files == []


def test_clip_audio_is_served_from_gradio_cache_only(app):
    """The positive control: the file route works, for the copy the app wrote of the clip's samples."""
    from gradio_client import Client

    url, ws, _ = app
    client = Client(url, verbose=False, download_files=False)
    audio, details = client.predict("clip-c1", api_name="/review_details")
    status, body = get(url, audio["url"].removeprefix(url.rstrip("/")))
    assert status == 200 and body[:4] == b"RIFF"
    assert audio["path"] != ws.read_clips()[1].audio_filepath and "clip-c1" in details
    for clip in ("clip-passwd", "clip-link"):  # rows pointing outside: nothing to play, nothing leaked
        audio, details = client.predict(clip, api_name="/review_details")
        assert audio is None and SECRET not in details and "root:" not in details


def test_uploads_are_bounded_and_no_component_takes_one(app):
    url, _, _ = app
    config = httpx.get(f"{url}config").json()
    takes_files = [c["type"] for c in config["components"] if c["type"] in UPLOAD_TYPES
                   or (c["type"] == "audio" and c["props"].get("interactive") is not False)]
    assert takes_files == []
    big = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.wav", b"0" * 2_000_000)})
    assert big.status_code == 413


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_a_host_beyond_this_machine_needs_auth_or_insecure(host, tmp_workspace):
    with pytest.raises(ValueError, match="without --auth"):
        launch(tmp_workspace.root, host=host)


def wait_until_served(process: subprocess.Popen, url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.5)
    raise AssertionError(f"the app did not start: {process.poll()=}")


def test_cli_refuses_all_interfaces_without_auth(tmp_workspace):
    done = subprocess.run(serve_command(tmp_workspace, free_port(), "--host", "0.0.0.0"), capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1
    assert lines[0].startswith("whisper-curator serve: refusing to serve on 0.0.0.0 without --auth")


@pytest.mark.parametrize("extra", [("--insecure",), ("--auth", "ann:s3cret")])
def test_cli_serves_all_interfaces_with_auth_or_insecure(extra, tmp_workspace):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(serve_command(tmp_workspace, port, "--host", "0.0.0.0", *extra), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_served(process, url)
        anonymous = httpx.get(f"{url}config")
        if "--insecure" in extra:
            assert anonymous.status_code == 200
            return
        assert anonymous.status_code == 401 and get(url, f"/gradio_api/file={tmp_workspace.path('manifest.jsonl')}")[0] == 401
        with httpx.Client(base_url=url) as session:
            assert session.post("login", data={"username": "ann", "password": "wrong"}).status_code == 400
            assert session.post("login", data={"username": "ann", "password": "s3cret"}).status_code == 200
            assert session.get("config").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_browser_sessions_saving_one_recipe_see_each_others_saves(tmp_path):
    from playwright.sync_api import expect

    ws = dummy_workspace(tmp_path / "ws")
    with served(ws.root) as url, browser_page() as first:
        second = first.context.browser.new_page()  # a new browser context: another session
        for page in (first, second):
            page.goto(url)
            page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
        first.locator("#filter-min input[type=number]").fill("0.7")
        first.locator("#save-recipe").click()
        expect(first.locator("#recipe-notice")).to_contain_text("Saved to", timeout=15_000)
        second.locator("#filter-min input[type=number]").fill("0.4")
        second.locator("#save-recipe").click()
        expect(second.locator("#recipe-notice")).to_contain_text("changed by another session", timeout=15_000)
        assert load_recipe(ws).filters["confidence"].min == 0.4  # last writer wins, and was told
        first.locator("#save-recipe").click()
        expect(first.locator("#recipe-notice")).to_contain_text("changed by another session", timeout=15_000)
        second.locator("#reload-recipe").click()
        expect(second.locator("#recipe-notice")).to_contain_text("Loaded", timeout=15_000)
        expect(second.locator("#filter-min input[type=number]")).to_have_value("0.7", timeout=15_000)
        second.locator("#save-recipe").click()
        expect(second.locator("#recipe-notice")).to_contain_text("Saved to", timeout=15_000)
