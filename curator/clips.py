"""Clips tab: the table of clips, filtered by status; choosing one plays it and shows its details."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from curator.summary import score_columns
from engine.io.audio import SAMPLE_RATE, AudioError, load_audio
from engine.io.workspace import Workspace

STATUS_CHOICES = ["all", "ok", "flagged", "error"]
TEXT_COLUMNS = ["id", "status", "reason", "duration", "lang", "pseudo_label", "text"]
MAX_ROWS = 1000  # the table ships to the browser whole; the Review tab pages through any number of clips


def visible_rows(table: pd.DataFrame, status: str) -> pd.DataFrame:
    """The first MAX_ROWS rows to list for a status filter, with text columns first and scores rounded."""
    rows = (table if status == "all" else table[table["status"] == status]).head(MAX_ROWS)
    numeric = ["duration"] + score_columns(rows)
    columns = [c for c in TEXT_COLUMNS if c in rows and not (c == "reason" and (rows[c] == "").all())]
    return rows[columns + numeric[1:]].astype({c: "float64" for c in numeric}).round(3)


def clip_details(table: pd.DataFrame, clip_id: str) -> str:
    """Markdown with a clip's label, reference and scores."""
    row = table.loc[table["id"] == clip_id].iloc[0]
    lines = [f"### {clip_id}", f"**Status:** {row['status']}" + (f" — {row['reason']}" if row["reason"] else "")]
    lines.append(f"**Pseudo-label:** {row['pseudo_label'] if pd.notna(row['pseudo_label']) else '(none)'}")
    if "text" in row and pd.notna(row["text"]):
        lines.append(f"**Reference:** {row['text']}")
    scores = [f"`{c}` {row[c]:.3f}" for c in score_columns(table) if pd.notna(row[c])]
    lines.append("**Scores:** " + (", ".join(scores) or "none"))
    return "\n\n".join(lines)


def clip_audio(table: pd.DataFrame, clip_id: str) -> tuple[int, np.ndarray] | None:
    """The clip as 16-bit samples for playback. Audio is sent as data, so no file path is ever served."""
    path = table.loc[table["id"] == clip_id, "audio_filepath"].iloc[0]
    try:
        return SAMPLE_RATE, (load_audio(path).samples * 32767).astype(np.int16)
    except AudioError:
        return None


def build(ws: Workspace, table: pd.DataFrame) -> None:
    """Lay out the Clips tab inside the current Blocks context."""
    with gr.Row():
        status = gr.Radio(STATUS_CHOICES, value="all", label="Show", elem_id="status-filter", scale=3)
    clips = gr.Dataframe(visible_rows(table, "all"), interactive=False, wrap=True, max_height=420,
                         label=f"Clips (choose a row to listen; the first {MAX_ROWS} of each status)"
                         if len(table) > MAX_ROWS else "Clips (choose a row to listen)", elem_id="clips-table")
    with gr.Row():
        audio = gr.Audio(label="Clip", interactive=False, elem_id="clip-audio", scale=1)
        details = gr.Markdown("Choose a clip in the table to hear it and see its scores.", elem_id="clip-details")

    status.change(lambda s: visible_rows(table, s), status, clips)

    def choose(event: gr.SelectData):
        clip_id = event.row_value[0]
        audio_value = clip_audio(table, clip_id)
        note = "" if audio_value is not None else "\n\n*This clip's audio cannot be played (see its reason).*"
        return audio_value, clip_details(table, clip_id) + note

    clips.select(choose, None, [audio, details])
