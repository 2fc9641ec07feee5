"""Export tab: write the clips the session's recipe keeps as a NeMo manifest or a Hugging Face dataset."""
from __future__ import annotations

import gradio as gr

from curator.session import Session
from engine.export import FORMATS, export
from engine.recipe import Recipe

FORMAT_CHOICES = [("NeMo JSONL manifest", "nemo"), ("Hugging Face dataset (save_to_disk)", "hf")]


def default_folder(session: Session, format: str) -> str:
    return str(session.ws.path("exports") / format)


def run_export(session: Session, recipe: Recipe, format: str, out: str) -> str:
    """Export and describe the result; bad input becomes a readable error in the page."""
    if format not in FORMATS:
        raise gr.Error("Choose an export format.")
    if not (out or "").strip():
        raise gr.Error("Give a folder to export into.")
    try:
        summary = export(session.ws, recipe, format, out.strip())
    except (ValueError, OSError) as e:
        raise gr.Error(str(e)) from None
    gr.Info(f"Exported {summary.clips} clips.")
    return (f"Exported **{summary.clips} clips** ({summary.hours:.2f} h) as `{format}` to `{summary.out}` "
            "(with the recipe used, as recipe.yaml).")


def build(session: Session) -> None:
    """Lay out and wire the Export tab inside the current Blocks context."""
    gr.Markdown("Exports the clips the current recipe keeps (saved or not), with the pseudo-label as text. "
                "The same export from a shell: `whisper-curator export WS --format nemo|hf --out DIR`.")
    format = gr.Radio(FORMAT_CHOICES, value="nemo", label="Format", elem_id="export-format")
    out = gr.Textbox(default_folder(session, "nemo"), label="Output folder (replaced if it holds an earlier export)",
                     elem_id="export-out")
    button = gr.Button("Export kept clips", variant="primary", elem_id="export-button")
    summary = gr.Markdown(elem_id="export-summary")
    format.input(lambda f: default_folder(session, f), format, out)
    button.click(lambda recipe, f, o: run_export(session, recipe, f, o), [session.recipe, format, out], summary)
