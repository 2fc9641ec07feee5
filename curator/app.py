"""The Gradio app: one tab per view over a workspace. Layout and wiring only; the views call the engine."""
from __future__ import annotations

import functools
import ipaddress
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_RUN_HISTORY", "False")  # else the browser re-saves ~100 events' outputs per event

import gradio as gr  # noqa: E402

from curator import HOST, PORT, clips, distill, evidence, export_panel, filters, map_view, recipe_bar, review  # noqa: E402
from curator.scoring import Server, serve_scoring  # noqa: E402
from curator.session import Session  # noqa: E402
from curator.summary import summary_markdown  # noqa: E402
from engine.io.recipe import Recipe  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scoring.prepare import needs_scoring, workspace_for  # noqa: E402

TITLE = "Whisper Curator"
CACHE_PRUNING = (3600, 6 * 3600)  # hourly, Gradio's copies of played clips older than 6 h (and all on exit)
MAX_UPLOAD = "1mb"  # the app takes no uploads, but Gradio's upload route exists: bound what it accepts


def build_app(workspace: str | Path, exports_anywhere: bool = True) -> gr.Blocks:
    """The whole app over one workspace folder. Without `exports_anywhere` (served beyond this machine)
    the Export tab writes only under WS/exports/."""
    ws = Workspace(workspace)
    ws.require_scores()
    table = ws.table()
    with gr.Blocks(title=TITLE, delete_cache=CACHE_PRUNING) as app:
        gr.Markdown(f"# {TITLE}\n`{ws.root}`")
        gr.Markdown(summary_markdown(table), elem_id="summary")
        recipe, loaded = gr.State(Recipe()), gr.State("")
        bar = recipe_bar.build()
        with gr.Tabs():
            with gr.Tab("Filter"):
                tab = filters.build(table)
            session = Session(ws, table, recipe, loaded, tab.column, [bar.totals, tab.plot, tab.active, tab.overview])
            filters.wire(tab, session)
            with gr.Tab("Review") as review_tab:
                review.build(session, review_tab)
            with gr.Tab("Clips"):
                clips.build(ws, table)
            with gr.Tab("Map") as map_tab:
                map_view.build(session, map_tab)
            with gr.Tab("Evidence") as evidence_tab:
                evidence.build(ws, table, evidence_tab)
            with gr.Tab("Export"):
                export_panel.build(session, exports_anywhere)
            with gr.Tab("Distill"):
                distill.build(ws, app)

        def restore(column):
            recipe, loaded, notice = recipe_bar.load(ws, table)
            return recipe, loaded, notice, *filters.all_controls(table, recipe, column)

        restored = [recipe, loaded, bar.notice, *tab.controls, *session.views]
        app.load(restore, tab.column, restored)
        bar.reload.click(restore, tab.column, restored)
        bar.save.click(lambda r, fp: recipe_bar.save(ws, r, fp), [recipe, loaded], [loaded, bar.notice])
    return app


def launch(source: str | Path, host: str = HOST, port: int = PORT, auth: str | None = None,
           insecure: bool = False, prevent_thread_lock: bool = False, workspace: str | Path | None = None) -> Server:
    """Serve the app on a scored workspace, or on any input `score` takes: that is scored first into
    `workspace` (default: a folder of the user cache named after it) while the page shows progress.
    `auth` is "user:pass"; serving beyond this machine needs `auth`, or `insecure`."""
    credentials = tuple(auth.split(":", 1)) if auth else None
    if auth and (len(credentials) != 2 or not all(credentials)):
        raise ValueError("--auth must look like user:pass")
    if not (credentials or insecure or _is_local(host)):
        raise ValueError(f"refusing to serve on {host} without --auth: anyone who can reach it could read this "
                         "workspace and change its recipe; add --auth USER:PASS, or --insecure on a trusted network")
    root = workspace_for(source, workspace)
    server = Server(lambda blocks: blocks.launch(
        server_name=host, server_port=port, auth=credentials, ssr_mode=False, quiet=True, theme=gr.themes.Soft(),
        prevent_thread_lock=True, max_file_size=MAX_UPLOAD))
    open_app = functools.partial(build_app, root, exports_anywhere=_is_local(host))
    if needs_scoring(source, root):
        serve_scoring(server, source, root, open_app, TITLE)
        print(f"scoring {source} into {root}; progress, then the app, on http://{host}:{port}/")
    else:
        server.show(open_app())
    if not prevent_thread_lock:
        server.block()
    return server


def _is_local(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False
