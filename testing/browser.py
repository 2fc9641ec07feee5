"""Playwright on Debian's chromium (never `playwright install`): start a page on a served app."""
from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FILTER_HISTOGRAM = "#filter-plot svg.histogram"  # drawn once the app's first tab is ready
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(source: Path, **options) -> Iterator[str]:
    """Serve the curator app on `source` (a workspace, or an input to score first) on a free local port;
    yield its URL. `options` go to `launch`."""
    from curator.app import launch

    port = free_port()
    server = launch(source, port=port, prevent_thread_lock=True, **options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.close()


@contextlib.contextmanager
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()
