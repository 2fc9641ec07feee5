"""Map tab: clips placed by their audio embedding (WS/embeddings/map.parquet), coloured by the recipe's
verdict or by a score. The map is computed by `whisper-curator map WS`, never by the app."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from curator import filters
from curator.session import Session
from curator.summary import score_columns
from engine.mapping import read_map
from engine.recipe import Recipe, kept_mask

VERDICT = "kept / rejected"


def map_figure(table: pd.DataFrame, points: pd.DataFrame, rows: np.ndarray, recipe: Recipe, colour: str) -> go.Figure:
    """Scattergl of the map; `rows` are the table positions of `points`."""
    ids = points["id"].to_numpy()
    layout = dict(height=560, template=filters.PLOT_STYLE, margin=dict(l=20, r=20, t=30, b=20), legend=dict(orientation="h"),
                  xaxis=dict(showticklabels=False, title=""), yaxis=dict(showticklabels=False, title=""))
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


def build(session: Session, tab: gr.Tab) -> None:
    """Lay out and wire the Map tab inside `tab`, the current Blocks context."""
    points = read_map(session.ws)
    if points is None:
        gr.Markdown(f"No map yet. Run `whisper-curator map {session.ws.root}` to place every clip by its teacher "
                    "audio embedding, then reload this page.", elem_id="map-missing")
        return
    table = session.table
    rows = pd.Index(table["id"]).get_indexer(points["id"])
    points = points[rows >= 0].reset_index(drop=True)
    rows = rows[rows >= 0]
    colour = gr.Dropdown([VERDICT, *score_columns(table)], value=VERDICT, label="Colour by", elem_id="map-colour")
    plot = gr.Plot(label="Clips by audio embedding (UMAP); similar recordings lie close together", elem_id="map-plot")

    def draw(recipe, chosen):
        return map_figure(table, points, rows, recipe, chosen)

    colour.input(draw, [session.recipe, colour], plot)
    tab.select(draw, [session.recipe, colour], plot)
