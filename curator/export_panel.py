"""Export tab: write the clips the session's recipe keeps as a NeMo manifest or a Hugging Face dataset."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from curator.session import Session
from engine.io.export import FORMATS, export
from engine.io.recipe import Recipe

FORMAT_CHOICES = [("NeMo JSONL manifest", "nemo"), ("Hugging Face dataset (save_to_disk)", "hf")]


def default_folder(session: Session, format: str) -> str:
    return str(session.ws.path("exports") / format)


def export_folder(session: Session, out: str, anywhere: bool) -> Path:
    """The folder to export into; served beyond this machine, only one under WS/exports/."""
    if not (out or "").strip():
        raise gr.Error("Give a folder to export into.")
    folder = Path(out.strip()).expanduser()
    folder = (folder if folder.is_absolute() else session.ws.path("exports") / folder).resolve()
    root = session.ws.path("exports").resolve()
    if not anywhere and not folder.is_relative_to(root):
        raise gr.Error(f"This app is served beyond this machine, so exports go under {root}; "
                       "use the command line to export elsewhere.")
    return folder


def run_export(session: Session, recipe: Recipe, format: str, out: str, anywhere: bool = True) -> str:
    """Export and describe the result; bad input becomes a readable error in the page."""
    if format not in FORMATS:
        raise gr.Error("Choose an export format.")
    out = export_folder(session, out, anywhere)
    try:
        summary = export(session.ws, recipe, format, out)
    except (ValueError, OSError) as e:
        raise gr.Error(str(e)) from None
    gr.Info(f"Exported {summary.clips} clips.")
    return (f"Exported **{summary.clips} clips** ({summary.hours:.2f} h) as `{format}` to `{summary.out}` "
            "(with the recipe used, as recipe.yaml).")


def build(session: Session, anywhere: bool = True) -> None:
    """Lay out and wire the Export tab inside the current Blocks context; `anywhere` False keeps exports
    under WS/exports/ (a relative folder is taken from there)."""
    gr.Markdown("Exports the clips the current recipe keeps (saved or not), with the pseudo-label as text. "
                "The same export from a shell: `whisper-curator export WS --format nemo|hf --out DIR`.")
    format = gr.Radio(FORMAT_CHOICES, value="nemo", label="Format", elem_id="export-format")
    out = gr.Textbox(default_folder(session, "nemo"), label="Output folder (replaced if it holds an earlier export)",
                     elem_id="export-out")
    button = gr.Button("Export kept clips", variant="primary", elem_id="export-button")
    summary = gr.Markdown(elem_id="export-summary")
    format.input(lambda f: default_folder(session, f), format, out)
    button.click(lambda recipe, f, o: run_export(session, recipe, f, o, anywhere), [session.recipe, format, out], summary)
