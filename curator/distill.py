"""Distill tab: a placeholder until distillation lands."""
from __future__ import annotations

import gradio as gr


def build() -> None:
    gr.Markdown("Distillation — training a smaller Whisper student on the kept clips — comes in a later "
                "version. Until then, export the kept set and train on it with your own recipe.")
    gr.Button("Distill a student", interactive=False, elem_id="distill-button")
