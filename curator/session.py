"""What the tabs share: the workspace, its table, the session's recipe and the views any recipe change refreshes."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from engine.io.workspace import Workspace


@dataclass
class Session:
    ws: Workspace
    table: pd.DataFrame
    recipe: gr.State  # the session's Recipe, saved only on request
    loaded: gr.State  # fingerprint of recipe.yaml as this session last read or wrote it
    column: gr.Dropdown  # the score the Filter tab shows
    views: list  # totals, histogram, active filters, overview: the outputs of filters.recipe_views
