"""Map tab: clips placed by their audio embedding (WS/embeddings/map.parquet), coloured by the recipe's
verdict or by a score; clicking a point or box/lasso-selecting points lists those clips under the map, and
choosing one there plays it (the Review tab's player). `whisper-curator score` makes the map; the tab reads it
each time it is chosen, so a map made while the app runs shows up, and without one it offers a Make map button
that runs the engine's `audio_map` under a progress bar.

gr.Plot emits no plotly selection events, and gr.ScatterPlot (Vega, SVG) only brushes an x range and cannot
draw 100k points, so the plotly Scattergl stays and a small script (`BRIDGE_JS`, in an empty gr.HTML) forwards
plotly's click / box / lasso as JSON to `select_points`: {"ids": [...]}, {"box": {"x": [x0, x1], "y": [y0, y1]}}
or {"lasso": {"x": [...], "y": [...]}}. A box or lasso is applied to every clip on the server, so the plot draws at
most MAX_DRAWN of them (a fixed random sample): plotly recomputes its selection on every mouse move, about 2 s
a move at 100k points in headless chromium on 2 busy cores, 0.45 s at 25k.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from curator import filters, review
from curator.session import Session
from curator.summary import score_columns
from engine.analysis.mapping import MAP, audio_map, read_map
from engine.io.recipe import Recipe, kept_mask
from engine.scores import higher_is_better

VERDICT = "kept / rejected"
MAX_LISTED = 200
MAX_DRAWN = 25_000
MISSING = ("No map yet: it places every clip by its teacher audio embedding, similar recordings close together. "
           "Make it here (seconds for a few thousand clips, about a minute for 100k), or run "
           "`whisper-curator map {root}`; `whisper-curator score` makes it too.")
PLOT_LABEL = "Clips by audio embedding (UMAP); similar recordings lie close together"
EMPTY_LIST = "Click a point, or drag a box over points (the lasso is in the plot's toolbar), to list those clips here."
BRIDGE_JS = """
const send = (selection) => { props.value = JSON.stringify(selection); trigger('pick'); };
const bind = () => {
  const plot = document.querySelector('#map-plot .js-plotly-plot');
  if (!plot || !plot.on || plot.dataset.curatorBound) return;
  plot.dataset.curatorBound = '1';
  plot.on('plotly_selected', (e) => {
    if (e && e.range) send({box: {x: e.range.x, y: e.range.y}});
    else if (e && e.lassoPoints) send({lasso: {x: e.lassoPoints.x, y: e.lassoPoints.y}});
  });
  plot.on('plotly_click', (e) => send({ids: e.points.map((p) => p.text)}));
};
setInterval(bind, 400);
"""


def map_figure(table: pd.DataFrame, points: pd.DataFrame, rows: np.ndarray, recipe: Recipe, colour: str) -> go.Figure:
    """Scattergl of the map; `rows` are the table positions of `points`."""
    ids = points["id"].to_numpy()
    layout = dict(height=560, template=filters.PLOT_STYLE, margin=dict(l=20, r=20, t=30, b=20), legend=dict(orientation="h"),
                  xaxis=dict(showticklabels=False, title=""), yaxis=dict(showticklabels=False, title=""),
                  dragmode="select", uirevision="map")
    if colour == VERDICT:
        kept = kept_mask(table, recipe)[rows]
        traces = [go.Scattergl(x=points["x"][part], y=points["y"][part], text=ids[part], mode="markers", name=name,
                               marker=dict(size=6, color=c), hovertemplate="%{text}<extra>" + name + "</extra>")
                  for name, part, c in (("kept", kept, filters.KEPT_COLOUR), ("rejected", ~kept, filters.REJECTED_COLOUR))]
    else:
        values = filters.column_values(table, colour)[rows]
        traces = [go.Scattergl(x=points["x"], y=points["y"], text=ids, mode="markers", name=colour,
                               marker=dict(size=6, color=values, colorscale="Viridis", showscale=True,
                                           colorbar=dict(title=colour)),
                               hovertemplate="%{text}<br>" + colour + " %{marker.color:.3f}<extra></extra>")]
    return go.Figure(traces, layout=layout)


def drawn_sample(n: int, limit: int = MAX_DRAWN) -> np.ndarray:
    """Positions of the points the plot draws: all of them, or a fixed random `limit` of them, in order."""
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def inside(x: np.ndarray, y: np.ndarray, corners_x: list[float], corners_y: list[float]) -> np.ndarray:
    """Which points lie inside the polygon (even-odd rule), edge by edge over all points at once."""
    result = np.zeros(len(x), bool)
    for (x1, y1), (x2, y2) in zip(zip(np.roll(corners_x, 1), np.roll(corners_y, 1)), zip(corners_x, corners_y)):
        if y1 == y2:
            continue
        crosses = (y1 > y) != (y2 > y)
        result ^= crosses & (x < x1 + (y - y1) * (x2 - x1) / (y2 - y1))
    return result


def selected(points: pd.DataFrame, selection: dict) -> np.ndarray:
    """Positions in `points` picked by a selection: {"ids": [...]}, {"box": {"x", "y"}} or {"lasso": {"x", "y"}}."""
    x, y = points["x"].to_numpy(float), points["y"].to_numpy(float)
    if "box" in selection:
        (x0, x1), (y0, y1) = sorted(selection["box"]["x"]), sorted(selection["box"]["y"])
        mask = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    elif "lasso" in selection:
        mask = inside(x, y, selection["lasso"]["x"], selection["lasso"]["y"])
    else:
        mask = points["id"].isin(selection.get("ids", [])).to_numpy()
    return np.flatnonzero(mask)


def select_points(table: pd.DataFrame, points: pd.DataFrame, rows: np.ndarray, recipe: Recipe, colour: str,
                  selection: str) -> tuple[pd.DataFrame, str]:
    """The map selection handler: the picked clips, doubtful first by the colour's score (else the first score),
    at most MAX_LISTED of them, and a line saying how many were picked."""
    try:
        picked = rows[selected(points, json.loads(selection or "{}"))]
    except (ValueError, KeyError, TypeError) as e:
        raise gr.Error(f"Could not read the map selection: {e}") from None
    columns = score_columns(table)
    column = colour if colour in columns else (columns[0] if columns else "duration")
    values = filters.column_values(table, column)[picked]
    order = np.argsort(values if higher_is_better(column) else -values, kind="stable")[:MAX_LISTED]
    frame = review.clip_rows(table, recipe, picked[order], column)
    if not len(picked):
        return frame, "No clips in this selection. " + EMPTY_LIST
    shown = f" (the {MAX_LISTED} most doubtful by `{column}` shown)" if len(picked) > MAX_LISTED else \
        f", doubtful first by `{column}`"
    return frame, f"**{len(picked)} clips selected**{shown}. Choose one to listen to it."


@dataclass(frozen=True)
class MapPoints:
    """The map's clips that are in the table, as one version of the map file holds them."""

    points: pd.DataFrame  # id, x, y
    rows: np.ndarray  # each point's position in the table
    drawn: np.ndarray  # positions in `points` the plot draws (drawn_sample)
    stamp: tuple[int, int]  # the map file's inode and modification time

    @property
    def label(self) -> str:
        sampled = f" ({len(self.drawn):,} of {len(self.points):,} drawn at random; a selection lists all)" \
            if len(self.drawn) < len(self.points) else ""
        return PLOT_LABEL + sampled


class MapFile:
    """WS's map joined to the table, read again whenever the file changes: a map made by `score`, `map` or the
    Make map button while the app runs shows the next time the tab is chosen, in any page."""

    def __init__(self, session: Session):
        self.session, self.latest = session, None

    def read(self) -> MapPoints | None:
        try:
            stat = self.session.ws.path(MAP).stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns)  # a map is written by renaming a new file into place
        if self.latest is None or self.latest.stamp != stamp:
            points = read_map(self.session.ws)
            rows = pd.Index(self.session.table["id"]).get_indexer(points["id"])
            points = points[rows >= 0].reset_index(drop=True)
            self.latest = MapPoints(points, rows[rows >= 0], drawn_sample(len(points)), stamp)
        return self.latest


def build(session: Session, tab: gr.Tab) -> None:
    """Lay out and wire the Map tab inside `tab`, the current Blocks context; plotly draws only in a visible tab,
    so choosing the tab reads the map and draws it."""
    table, maps = session.table, MapFile(session)
    present = maps.read() is not None
    with gr.Column(visible=not present) as missing:
        note = gr.Markdown(MISSING.format(root=session.ws.root), elem_id="map-missing")
        make = gr.Button("Make map", variant="primary", elem_id="map-make")
    with gr.Column(visible=present) as shown:
        colour = gr.Dropdown([VERDICT, *score_columns(table)], value=VERDICT, label="Colour by", elem_id="map-colour")
        plot = gr.Plot(label=PLOT_LABEL, elem_id="map-plot")
        bridge = gr.HTML("", html_template="", js_on_load=BRIDGE_JS, elem_id="map-bridge")
        info = gr.Markdown(EMPTY_LIST, elem_id="map-info")
        listed = gr.Dataframe(interactive=False, wrap=True, max_height=400, elem_id="map-table",
                              label="Selected clips (choose a row to listen)")
        player = review.player("map", hint="<p>Choose a clip in the list to hear it and compare its label; "
                                           "override the recipe for it in the Review tab.</p>")
    review.wire_player(session, listed, player, "map_details")

    def draw(recipe, chosen):
        current = maps.read()
        if current is None:
            return gr.Column(visible=True), gr.Column(visible=False), gr.skip()
        points = current.points.iloc[current.drawn].reset_index(drop=True)
        figure = map_figure(table, points, current.rows[current.drawn], recipe, chosen)
        return gr.Column(visible=False), gr.Column(visible=True), gr.Plot(figure, label=current.label)

    def make_map(recipe, chosen, progress=gr.Progress()):
        try:
            audio_map(session.ws, progress=lambda done, total: progress((done, total), desc="Making the map"))
        except ValueError as e:
            raise gr.Error(f"Could not make the map: {e}") from None
        return gr.skip(), *draw(recipe, chosen)  # the note carries the progress bar

    def pick(recipe, chosen, selection):
        current = maps.read()
        if current is None:
            raise gr.Error("This workspace has no map any more; make it again.")
        return select_points(table, current.points, current.rows, recipe, chosen, selection)

    views = [missing, shown, plot]
    colour.input(draw, [session.recipe, colour], views)
    tab.select(draw, [session.recipe, colour], views)
    make.click(make_map, [session.recipe, colour], [note, *views])
    bridge.pick(pick, [session.recipe, colour, bridge], [listed, info], api_name="map_selection")
