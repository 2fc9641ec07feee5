"""Review tab: the clips a recipe rejects (or keeps), sorted by a score, a page at a time; choosing one plays
it, shows its label against the reference word by word, its scores, and lets the user override the recipe."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import gradio as gr
import numpy as np
import pandas as pd

from curator import filters
from curator.clips import clip_audio
from curator.diff import LEGEND, word_diff_html
from curator.session import Session
from curator.summary import default_column, score_columns
from engine.io.recipe import Recipe, explain, kept_mask, save_overrides
from engine.scores import higher_is_better

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
    return clip_rows(table, recipe, subset[on_page], sort), f"{len(order)} {show} clips · page {page} of {pages}", page


def clip_rows(table: pd.DataFrame, recipe: Recipe, rows: np.ndarray, column: str) -> pd.DataFrame:
    """The listed clips at table positions `rows`: id first (what choosing a row opens), why, `column`, label."""
    listed = table.iloc[rows]
    return pd.DataFrame({
        "id": listed["id"].to_numpy(),
        "why": explain(table, recipe, rows),
        column: filters.column_values(listed, column).round(3),
        "duration": filters.column_values(listed, "duration").round(2),
        "pseudo_label": listed["pseudo_label"].astype(object).to_numpy(),
    })


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


def open_clip(table: pd.DataFrame, recipe: Recipe, clip_id: str | None) -> tuple[tuple[int, np.ndarray] | None, str]:
    """The player's audio and the details of `clip_id` (the empty panel when none is chosen)."""
    if not clip_id:
        return None, EMPTY_DETAILS
    if not (table["id"] == clip_id).any():
        raise gr.Error(f"No clip {clip_id!r} in this workspace.")
    audio = clip_audio(table, clip_id)
    note = "" if audio is not None else "<p><i>This clip's audio cannot be played (see its status).</i></p>"
    return audio, details_html(table, recipe, clip_id) + note


def chosen_id(event: gr.SelectData) -> str:
    """The id of the row chosen in a clip list (`clip_rows` puts it first)."""
    return event.row_value[0]


@dataclass
class Player:
    """The chosen clip's id, audio and details under a clip list."""

    clip_id: gr.Textbox
    audio: gr.Audio
    details: gr.HTML


def player(prefix: str, buttons: Callable[[], None] | None = None, hint: str = EMPTY_DETAILS) -> Player:
    """Lay out a player; `buttons` (a callable) adds controls under the audio, `hint` fills the empty details."""
    with gr.Row():
        with gr.Column(scale=1):
            clip_id = gr.Textbox(label="Chosen clip", interactive=False, elem_id=f"{prefix}-clip-id")
            audio = gr.Audio(label="Clip", interactive=False, elem_id=f"{prefix}-audio")
            if buttons:
                buttons()
        details = gr.HTML(hint, elem_id=f"{prefix}-details")
    return Player(clip_id, audio, details)


def wire_player(session: Session, rows: gr.Dataframe, shown: Player, api_name: str) -> None:
    """Choosing a row of `rows` plays the clip and shows its details; `api_name` opens a clip by id."""
    rows.select(chosen_id, None, shown.clip_id, api_visibility="private").then(
        lambda recipe, clip_id: open_clip(session.table, recipe, clip_id), [session.recipe, shown.clip_id],
        [shown.audio, shown.details], api_name=api_name)


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
    default_sort = default_column(table) or "duration"
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
    buttons = {}

    def override_buttons():
        with gr.Row():
            buttons["keep"] = gr.Button("Keep", variant="primary", elem_id="keep-clip")
            buttons["reject"] = gr.Button("Reject", variant="stop", elem_id="reject-clip")
            buttons[None] = gr.Button("Clear override", elem_id="clear-override")

    shown = player("review", override_buttons)

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

    wire_player(session, rows, shown, "review_details")

    def overrider(action):
        def override(recipe, loaded, clip_id, column, show, sort, order, number):
            recipe, loaded, html = set_override(session, recipe, loaded, clip_id, action)
            return (recipe, loaded, html, *filters.recipe_views(table, recipe, column),
                    *page_rows(table, recipe, show, sort, order, number))
        return override

    for action, button in buttons.items():
        button.click(overrider(action), [session.recipe, session.loaded, shown.clip_id, session.column, *listing, page],
                     [session.recipe, session.loaded, shown.details, *session.views, rows, info, page])
