"""Serving an input that is not scored yet: a progress page while the engine scores it, then the app.

The app is built from a scored workspace, so the server first serves a small page and scores in a
background thread. When scoring ends the app is built and served on the same address in place of the
page (Gradio cannot swap the Blocks of a running server through its public API, so the page's server
is closed and the app's launched with the same settings and logins); the page polls the server's
config and reloads once it is the app's.
"""
from __future__ import annotations

import contextlib
import html
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from engine.io.progress import Progress
from engine.scoring.prepare import score_input

TICK = 1.0  # seconds between refreshes of the progress shown on the page
MARKER = "scoring-progress"  # elem_id of the progress; the page reloads once the served config lacks it
RELOAD_INTO_APP = f"""() => {{
  const check = async () => {{
    if (document.getElementById("scoring-error")) return;  // scoring failed: no app will come
    try {{
      const config = await (await fetch("config", {{cache: "no-store"}})).text();
      if (!config.includes("{MARKER}")) {{ window.location.reload(); return; }}
    }} catch (e) {{}}  // the server is restarting with the app
    setTimeout(check, {int(TICK * 1000)});
  }};
  setTimeout(check, {int(TICK * 1000)});
}}"""


class Stopped(Exception):
    """Raised in the scoring thread by a progress report once the server is closed."""


@dataclass
class ScoringState:
    """What the page shows; written by the scoring thread, read by the page's timer."""

    stage: str = "starting"
    done: int = 0
    total: int = 0  # 0 until the stage reports its size
    unit: str = "clip"  # what the stage counts
    error: str | None = None  # one readable sentence when scoring failed
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)  # set: stop at the next progress report

    @contextlib.contextmanager
    def stage_progress(self, desc: str, unit: str = "clip") -> Iterator[Progress]:
        """An engine `Stages` callback: enter a stage, yield its progress callback (which raises
        `Stopped` once `stop` is set: finished shards stay, and opening the input again resumes)."""
        self.stage, self.done, self.total, self.unit = desc, 0, 0, unit

        def report(done: int, total: int) -> None:
            if self.stop.is_set():
                raise Stopped
            self.done, self.total = done, total

        report(0, 0)
        yield report


def progress_html(state: ScoringState) -> str:
    """The bar and the stage line (or the failure) as HTML."""
    if state.error:
        return f'<p id="scoring-error">⚠ Scoring stopped: {html.escape(state.error)}</p>'
    if state.finished:
        return _bar(1, 1) + '<p id="scoring-stage">Scoring finished; opening the app…</p>'
    if not state.total:  # the stage has not said its size yet: an indeterminate bar
        return _bar() + f'<p id="scoring-stage">{html.escape(state.stage)}…</p>'
    return _bar(state.done, state.total) + (f'<p id="scoring-stage">{html.escape(state.stage)}: '
                                             f'{state.done} of {state.total} {state.unit}s</p>')


def _bar(done: int | None = None, total: int | None = None) -> str:
    size = f' max="{total}" value="{done}"' if total else ""
    return f'<progress{size} style="width: 100%; height: 1.2em; accent-color: var(--color-accent)"></progress>'


def scoring_page(source: str | Path, workspace: Path, state: ScoringState, title: str) -> gr.Blocks:
    """The page shown while scoring: what is scored where, and its live progress."""
    with gr.Blocks(title=title) as page:
        gr.Markdown(f"# {title}\nScoring `{source}` into `{workspace}`. The app opens here when scoring ends; "
                    "stopping the server stops scoring, and opening the same input again resumes it.")
        bar = gr.HTML(progress_html(state), elem_id=MARKER)
        timer = gr.Timer(TICK)
        timer.tick(lambda: (progress_html(state), gr.Timer(active=not (state.error or state.finished))),
                   None, [bar, timer], show_progress="hidden")
        page.load(None, js=RELOAD_INTO_APP)
    return page


class Server:
    """One address serving one Blocks at a time; `show` replaces what it serves."""

    def __init__(self, launch: Callable[[gr.Blocks], None]):
        self._launch, self._current = launch, None
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def show(self, blocks: gr.Blocks) -> None:
        """Serve `blocks` instead of what is served now, keeping logins; nothing once closed."""
        with self._lock:
            if self.closed.is_set():
                return
            previous = self._current
            if previous is not None:
                previous.close(verbose=False)
            self._launch(blocks)
            self._current = blocks
            if previous is not None:  # Gradio's own login cookie and tokens, so nobody logs in twice
                blocks.server_app.cookie_id = previous.server_app.cookie_id
                blocks.server_app.tokens = previous.server_app.tokens

    def close(self) -> None:
        with self._lock:
            self.closed.set()
            if self._current is not None:
                self._current.close(verbose=False)

    def block(self) -> None:
        """Wait until closed or interrupted (Ctrl-C closes)."""
        try:
            while not self.closed.wait(0.1):
                pass
        finally:
            self.close()


def serve_scoring(server: Server, source: str | Path, workspace: Path, build_app: Callable[[], gr.Blocks],
                  title: str) -> ScoringState:
    """Serve the progress page, score in a background thread, then serve `build_app()`. Closing the
    server stops scoring at its next progress report (the thread is not a daemon: a native teacher
    call must not be cut off at interpreter exit)."""
    state = ScoringState(stop=server.closed)
    server.show(scoring_page(source, workspace, state, title))
    threading.Thread(target=_score_then_open, args=(server, state, source, workspace, build_app),
                     name="scoring").start()
    return state


def _score_then_open(server: Server, state: ScoringState, source: str | Path, workspace: Path,
                     build_app: Callable[[], gr.Blocks]) -> None:
    try:
        score_input(source, workspace, state.stage_progress)
        state.stage, state.total = "opening the app", 0
        app = build_app()
    except Stopped:
        return
    except Exception as e:  # shown on the page; the server stays up to show it
        state.error = failure_sentence(e)
        print(f"whisper-curator: scoring stopped: {state.error}", file=sys.stderr)
        if not isinstance(e, (OSError, ValueError)):
            traceback.print_exc()
        return
    state.finished = True
    time.sleep(2 * TICK)  # open pages show "finished" and stop polling before the server restarts
    try:
        server.show(app)
    except OSError as e:  # the port was taken while the server restarted: nothing is served, so stop
        print(f"whisper-curator: cannot serve the app: {e}; open the same input again", file=sys.stderr)
        server.close()


def failure_sentence(error: Exception) -> str:
    """One line: the message of an expected error (bad input, missing file), else its type and message."""
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else "no details"
    return message if isinstance(error, (OSError, ValueError)) else f"{type(error).__name__}: {message}"
