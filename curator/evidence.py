"""Evidence tab: does label-free filtering work on this workspace? Each score against the references
the workspace has — the validation table, ROC curves and kept-set WER by retention — and, when the
study wrote them, the WERs of students distilled on differently filtered data."""
from __future__ import annotations

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from engine.analysis.validate import BAD_WER, BASELINE, ORACLE, Validation, markdown, validate
from engine.io.workspace import Workspace

STUDENTS = "reports/students.csv"  # written by benchmarks/study.py: one row per student (filter, wer, ...)


def validation_or_reason(table: pd.DataFrame) -> Validation | str:
    """The validation of this table, or why there is none (too few references)."""
    try:
        return validate(table)
    except ValueError as e:
        return (f"No evidence for this workspace: {e}. Add reference texts (`text` in the input manifest) "
                "to some clips — 50 are enough to see which scores work — and score it again.")


def curve_figure(validation: Validation, kind: str) -> go.Figure:
    """ROC curves (`kind="roc"`) or kept-set WER by retention (`"retention"`) of the plotted scores."""
    x, y, xtitle, ytitle = {
        "roc": ("fpr", "tpr", "good labels rejected (false positive rate)", f"WER > {BAD_WER:.0%} caught (true positive rate)"),
        "retention": ("retention", "kept_wer", "share of clips kept", "kept-set WER"),
    }[kind]
    figure = go.Figure()
    for score, curves in validation.curves.items():
        width = 3 if score in ("combined", ORACLE) else 1.5
        dash = "dash" if score == BASELINE else None
        figure.add_scatter(x=curves[kind][x], y=curves[kind][y], mode="lines", line={"width": width, "dash": dash},
                           name=f"{score} ({validation.table.loc[score, 'auroc']:.2f})")
    figure.update_layout(xaxis_title=xtitle, yaxis_title=ytitle, height=380, margin={"l": 50, "r": 10, "t": 30, "b": 40},
                         legend={"font": {"size": 10}}, title={"text": "ROC" if kind == "roc" else "Retention vs WER",
                                                                "font": {"size": 14}})
    return figure


def students_figure(students: pd.DataFrame) -> go.Figure:
    """Held-out test WER of each student as bars, one group per contamination level (the study's `level`
    column; "–" for the teacher and untouched rows), with the 95 % interval as error bars where the study
    gave one."""
    figure = go.Figure()
    levels = students["level"] if "level" in students else pd.Series("–", index=students.index)
    for level, rows in students.groupby(levels, sort=False):
        error = None
        if {"low", "high"} <= set(rows) and rows["low"].notna().any():
            error = {"type": "data", "symmetric": False, "array": (rows["high"] - rows["wer"]).fillna(0),
                     "arrayminus": (rows["wer"] - rows["low"]).fillna(0)}
        figure.add_bar(x=rows["student"], y=rows["wer"], name=str(level), error_y=error,
                       text=rows["wer"].round(3), textposition="outside")
    figure.update_yaxes(range=[0, 1.25 * max(float(students["wer"].max()), 0.01)])  # room for the bar labels
    figure.update_layout(yaxis_title="held-out test WER", barmode="group", height=380,
                         margin={"l": 50, "r": 10, "t": 30, "b": 110}, legend={"title": {"text": "pool"}},
                         title={"text": "Students distilled on differently filtered data", "font": {"size": 14}})
    return figure


def build(ws: Workspace, table: pd.DataFrame, tab: gr.Tab) -> None:
    """Lay out the Evidence tab for `table` (computed once, when the app starts) inside `tab`; plotly
    draws only in a visible tab, so the figures are sent when the tab is chosen."""
    validation = validation_or_reason(table)
    if isinstance(validation, str):
        gr.Markdown(validation, elem_id="evidence-none")
        return
    gr.Markdown(f"**{validation.line()}**. The baseline to beat is `{BASELINE}`; `combined` uses no reference.",
                elem_id="evidence-summary")
    with gr.Row():
        plots = [gr.Plot(elem_id="evidence-roc", show_label=False), gr.Plot(elem_id="evidence-retention", show_label=False)]
    figures = [curve_figure(validation, "roc"), curve_figure(validation, "retention")]
    gr.Markdown(markdown(validation), elem_id="evidence-table")
    if ws.path(STUDENTS).is_file():
        plots.append(gr.Plot(elem_id="evidence-students", show_label=False))
        figures.append(students_figure(pd.read_csv(ws.path(STUDENTS))))
    tab.select(lambda: figures, None, plots)
