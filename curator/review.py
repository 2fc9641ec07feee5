"""Review tab: the clips a recipe rejects (or keeps), sorted by a score, a page at a time; choosing one plays
it, shows its label against the reference word by word, its scores, and lets the user override the recipe."""
from __future__ import annotations

import math
from html import escape

import gradio as gr
import numpy as np
import pandas as pd

from curator import filters
from curator.clips import clip_audio
from curator.diff import LEGEND, word_diff_html
from curator.session import Session
from curator.summary import score_columns
from engine.recipe import Recipe, explain, higher_is_better, kept_mask, save_overrides

SHOW_CHOICES = ["rejected", "kept", "all"]
ORDER_CHOICES = [("doubtful first", "worst"), ("best first", "best")]
PAGE_SIZE = 15
EMPTY_DETAILS = "<p>Choose a clip in the list to hear it, compare its label and override the recipe.</p>"


def page_rows(table: pd.DataFrame, recipe: Recipe, show: str, sort: str, order: str, page: int) -> tuple[pd.DataFrame, str, int]:
    """One page of the `show` clips sorted by `sort` (clips without a value last), the page line, the page number."""
    mask = kept_mask(table, recipe)
    subset = np.flatnonzero(~mask if show == "rejected" else mask if show == "kept" else np.ones(len(table), bool))
    values = filters.column_values(table, sort)[subset]
    ascending = higher_is_better(sort) == (order == "worst")
    order = np.argsort(values if ascending else -values, kind="stable")
    pages = max(1, math.ceil(len(order) / PAGE_SIZE))
    page = min(max(int(page or 1), 1), pages)
    on_page = order[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    rows = subset[on_page]
    page_table = table.iloc[rows]
    frame = pd.DataFrame({
        "id": page_table["id"].to_numpy(),
        "why": explain(table, recipe, rows),
        sort: values[on_page].round(3),
        "duration": filters.column_values(page_table, "duration").round(2),
        "pseudo_label": page_table["pseudo_label"].astype(object).to_numpy(),
    })
    return frame, f"{len(order)} {show} clips · page {page} of {pages}", page


def details_html(table: pd.DataFrame, recipe: Recipe, clip_id: str) -> str:
    """A clip's verdict, label vs reference (and proxy ASR), and every score, as HTML."""
    position = int(np.flatnonzero((table["id"] == clip_id).to_numpy())[0])
    row = table.iloc[position]
    label = row["pseudo_label"] if pd.notna(row["pseudo_label"]) else ""
    parts = [f"<h3 style='margin:0'>{escape(clip_id)}</h3>",
             f"<p><b>Status:</b> {escape(str(row['status']))}{' — ' + escape(row['reason']) if row['reason'] else ''}"
             f" · <b>Recipe:</b> {escape(explain(table, recipe, [position])[0])}</p>"]
    diffs = []
    if "text" in row and pd.notna(row["text"]):
        diffs.append(("Reference → pseudo-label", row["text"], label))
    if "proxy_text" in row and pd.notna(row["proxy_text"]):
        diffs.append(("Pseudo-label → proxy ASR", label, row["proxy_text"]))
    parts += [f"<p><b>{title}</b><br>{word_diff_html(first, second)}</p>" for title, first, second in diffs]
    parts.append(f"<p style='font-size:0.85em'>{LEGEND}</p>" if diffs else f"<p><b>Pseudo-label:</b> {escape(label) or '(none)'}</p>")
    scores = [f"<code>{escape(c)}</code>&nbsp;{row[c]:.3f}" for c in score_columns(table) if pd.notna(row[c])]
    parts.append("<p><b>Scores:</b> " + (" · ".join(scores) or "none") + "</p>")
    return "\n".join(parts)


def set_override(session: Session, recipe: Recipe, loaded: str, clip_id: str | None, action: str | None) -> tuple[Recipe, str, str]:
    """Keep/reject/clear one clip in the session's recipe and in recipe.yaml (its thresholds untouched there)."""
    if not clip_id:
        raise gr.Error("Choose a clip in the list first.")
    status = session.table.loc[session.table["id"] == clip_id, "status"].iloc[0]
    if action == "keep" and status == "error":
        raise gr.Error("This clip could not be processed (status error), so it has no label to keep.")
    try:
        loaded = save_overrides(session.ws, {clip_id: action}, since=loaded)
    except (OSError, ValueError) as e:
        raise gr.Error(f"Could not save the override to recipe.yaml: {e}") from None
    recipe = recipe.with_overrides({clip_id: action})
    return recipe, loaded, details_html(session.table, recipe, clip_id)


def build(session: Session, tab: gr.Tab) -> None:
    """Lay out and wire the Review tab inside `tab`, the current Blocks context."""
    table = session.table
    columns = score_columns(table)
    default_sort = "confidence" if "confidence" in columns else (columns[0] if columns else "duration")
    with gr.Row():
        show = gr.Radio(SHOW_CHOICES, value="rejected", label="Show", elem_id="review-show", scale=2)
        sort = gr.Dropdown(columns or ["duration"], value=default_sort, label="Sort by", elem_id="review-sort", scale=2)
        order = gr.Radio(ORDER_CHOICES, value="worst", label="Order", elem_id="review-order", scale=2)
    rows = gr.Dataframe(interactive=False, wrap=True, max_height=460, elem_id="review-table",
                        column_widths=["24%", "22%", "8%", "8%", "38%"],
                        label="Clips (choose a row to listen and override)")
    with gr.Row(equal_height=True):
        previous = gr.Button("← Previous page", size="sm", elem_id="review-previous", scale=0, min_width=150)
        following = gr.Button("Next page →", size="sm", elem_id="review-next", scale=0, min_width=150)
        info = gr.Markdown(elem_id="review-info")
    page = gr.State(1)
    chosen = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            audio = gr.Audio(label="Clip", interactive=False, elem_id="review-audio")
            with gr.Row():
                keep = gr.Button("Keep", variant="primary", elem_id="keep-clip")
                reject = gr.Button("Reject", variant="stop", elem_id="reject-clip")
                clear = gr.Button("Clear override", elem_id="clear-override")
        details = gr.HTML(EMPTY_DETAILS, elem_id="review-details")

    listing = [show, sort, order]

    def refresh(recipe, show, sort, order, page_number=1):
        return page_rows(table, recipe, show, sort, order, page_number)

    def turn(step):
        return lambda recipe, show, sort, order, number: refresh(recipe, show, sort, order, (number or 1) + step)

    for control in listing:
        control.input(refresh, [session.recipe, *listing], [rows, info, page], show_progress="hidden")
    previous.click(turn(-1), [session.recipe, *listing, page], [rows, info, page])
    following.click(turn(+1), [session.recipe, *listing, page], [rows, info, page])
    tab.select(refresh, [session.recipe, *listing, page], [rows, info, page])

    def choose(recipe, event: gr.SelectData):
        clip_id = event.row_value[0]
        audio_value = clip_audio(table, clip_id)
        note = "" if audio_value is not None else "<p><i>This clip's audio cannot be played (see its status).</i></p>"
        return clip_id, audio_value, details_html(table, recipe, clip_id) + note

    rows.select(choose, session.recipe, [chosen, audio, details])

    def overrider(action):
        def override(recipe, loaded, clip_id, column, show, sort, order, number):
            recipe, loaded, html = set_override(session, recipe, loaded, clip_id, action)
            return (recipe, loaded, html, *filters.recipe_views(table, recipe, column),
                    *page_rows(table, recipe, show, sort, order, number))
        return override

    for button, action in ((keep, "keep"), (reject, "reject"), (clear, None)):
        button.click(overrider(action), [session.recipe, session.loaded, chosen, session.column, *listing, page],
                     [session.recipe, session.loaded, details, *session.views, rows, info, page])
