"""The recipe bar above the tabs: live totals, Save and Reload of WS/recipe.yaml."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from engine.io.recipe import (
    Recipe, filter_passes, fingerprint, opening_recipe, read_recipe, save_recipe,
)
from engine.io.workspace import RECIPE, Workspace
from engine.scores import RECOMMENDED
from engine.scores.calibration import measured_error

WER_NOTE = "duration-weighted mean of per-clip WER over the clips with a reference"


def totals_markdown(summary: dict) -> str:
    """One line: kept and rejected clips and hours, the label-free estimate of the kept clips' WER, and
    kept-set WER against all-data WER when references tell."""
    line = (f"**Kept {summary['kept_clips']} clips ({summary['kept_hours']:.2f} h)** · "
            f"rejected {summary['rejected_clips']} clips ({summary['rejected_hours']:.2f} h)")
    if summary.get("estimated_wer") is not None:
        error = measured_error()
        margin = f"±{100 * error:.1f} points" if error is not None else "error unmeasured"
        line += (f" · **estimated WER of kept clips {summary['estimated_wer']:.1%}** <span class='note'>(no reference "
                 f"needed: 1 − {RECOMMENDED}; {margin}, measured on the development corpus)</span>")
    if summary["all_wer"] is not None:
        kept = f"{summary['kept_wer']:.1%}" if summary["kept_wer"] is not None else "n/a"
        line += (f" · **WER of kept clips {kept}** vs {summary['all_wer']:.1%} over all clips "
                 f"<span class='note'>({WER_NOTE}; {summary['kept_with_reference']} kept clips have one)</span>")
    return line


@dataclass
class RecipeBar:
    totals: gr.Markdown
    save: gr.Button
    reload: gr.Button
    notice: gr.Markdown


def build() -> RecipeBar:
    """Lay out the totals and the recipe buttons inside the current Blocks context."""
    with gr.Row(equal_height=True, elem_id="recipe-bar"):
        totals = gr.Markdown("", elem_id="totals", scale=5)
        save = gr.Button("Save recipe", variant="primary", elem_id="save-recipe", scale=0, min_width=140)
        reload = gr.Button("Reload recipe", elem_id="reload-recipe", scale=0, min_width=140)
    notice = gr.Markdown("", elem_id="recipe-notice")
    return RecipeBar(totals, save, reload, notice)


def save(ws: Workspace, recipe: Recipe, loaded: str) -> tuple[str, str]:
    """Save the session's recipe; returns the new fingerprint and the notice to show."""
    try:
        saved = save_recipe(ws, recipe, since=loaded)
    except OSError as e:
        raise gr.Error(f"Could not write {ws.path(RECIPE)}: {e.strerror or e}") from None
    if saved.notice:
        gr.Warning(saved.notice)
        return saved.fingerprint, f"⚠ {saved.notice}."
    return saved.fingerprint, f"Saved to `{ws.path(RECIPE)}`."


def load(ws: Workspace, table: pd.DataFrame) -> tuple[Recipe, str, str]:
    """The saved recipe, its fingerprint and a notice; a recipe that cannot apply to this workspace gives
    the default recipe and a warning."""
    try:
        recipe, loaded = read_recipe(ws)
        filter_passes(table, recipe)
    except ValueError as e:
        gr.Warning(f"{e}. Starting from the default recipe (every ok clip).")
        return Recipe(), fingerprint(ws.path(RECIPE)), f"⚠ {e}; using the default recipe until you save."
    if not loaded:
        opening = opening_recipe(table)
        if opening != recipe:
            return (opening, loaded, "No recipe.yaml saved yet: showing the **recommended** recipe; "
                    "Save it to distill or export with it (unsaved, they keep every ok clip).")
        return recipe, loaded, "No recipe.yaml saved yet; the default recipe keeps every ok clip."
    return recipe, loaded, f"Loaded `{ws.path(RECIPE)}`."
