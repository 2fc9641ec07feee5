"""Validation: how well each label-free score predicts the true quality of the pseudo-labels.

Needs references on some clips (`wer` in the scores table). For every score, on the clips that
have a reference: Spearman correlation with WER, AUROC for spotting labels with WER > 20 %, and
the kept set's WER when the score keeps its best 50/70/90 %. `avg_logprob` is the baseline to
beat; the WER oracle and no filter frame the table. Written to `WS/reports/` as CSV, Markdown
and two figures (ROC curves, retention vs kept-set WER).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.io.atomic import write_bytes_atomic, write_text_atomic
from engine.io.workspace import Workspace
from engine.scores import HIGHER_IS_BETTER, REFERENCE_COLUMNS, higher_is_better
from engine.scores.ranking import goodness
from engine.scores.reference_wer import GOOD_WER, good_label

REPORTS = "reports"
BAD_WER = GOOD_WER  # a pseudo-label with a higher WER is bad
RETENTIONS = (0.5, 0.7, 0.9)
BASELINE = "avg_logprob"
ORACLE, NO_FILTER = "oracle (reference WER)", "no filter"
MIN_ROWS = 10
PLOTTED = 6  # label-free scores with the best AUROC drawn besides combined, the baseline and the best kept set


@dataclass
class Validation:
    table: pd.DataFrame  # one row per score: spearman, auroc, coverage, kept_wer@50/70/90
    rows: int  # clips with a reference
    bad: int  # of which with WER > BAD_WER
    curves: dict[str, pd.DataFrame]  # per plotted score: fpr/tpr and retention/kept_wer

    def line(self) -> str:
        best = self.table.drop([ORACLE, NO_FILTER], errors="ignore")["auroc"].idxmax()
        parts = [f"{name} AUROC {self.table.loc[name, 'auroc']:.3f}" for name in dict.fromkeys(["combined", best, BASELINE])
                 if name in self.table.index]
        return f"{self.rows} clips with references ({self.bad} with WER > {BAD_WER:.0%}): " + ", ".join(parts)


def score_columns(table: pd.DataFrame) -> list[str]:
    """Registry scores with a direction that this table has values for; never reference-based ones."""
    return [c for c, higher in HIGHER_IS_BETTER.items()
            if higher is not None and c not in REFERENCE_COLUMNS and c in table and table[c].notna().sum() > 1]


def oriented(values: pd.Series, column: str) -> np.ndarray:
    """Score oriented so that higher = better label; missing values sit in the middle (neither kept
    first nor dropped first)."""
    return goodness(values, higher_is_better(column)).fillna(0.5).to_numpy()


def kept_wer(good: np.ndarray, wer: np.ndarray, duration: np.ndarray, retention: float) -> float:
    """Duration-weighted mean WER of the best `retention` share of clips by `good`."""
    keep = np.argsort(-good, kind="stable")[: max(1, int(round(retention * len(good))))]
    return float(np.average(wer[keep], weights=duration[keep]))


def validate(table: pd.DataFrame) -> Validation:
    """Validation of every label-free score on the rows that have a reference WER and a label."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score, roc_curve

    rows = table[table["pseudo_label"].notna() & table.get("wer", pd.Series(np.nan, index=table.index)).notna()]
    if len(rows) < MIN_ROWS:
        raise ValueError(f"validation needs references on at least {MIN_ROWS} labelled clips; this workspace has {len(rows)}")
    wer = rows["wer"].to_numpy(dtype=float)
    duration = rows["duration"].fillna(1.0).to_numpy(dtype=float)
    bad = ~good_label(wer)
    if bad.all() or not bad.any():
        raise ValueError(f"validation needs both good and bad labels (WER ≤ and > {BAD_WER:.0%}); all {len(rows)} are one kind")
    candidates = {c: oriented(rows[c], c) for c in score_columns(rows)}
    candidates[ORACLE] = -wer
    records, curves = {}, {}
    for name, good in candidates.items():
        records[name] = {
            "spearman": -spearmanr(good, wer).statistic,
            "auroc": roc_auc_score(bad, -good),
            "coverage": rows[name].notna().mean() if name in rows else 1.0,
            **{f"kept_wer@{r:.0%}": kept_wer(good, wer, duration, r) for r in RETENTIONS},
        }
    records[NO_FILTER] = {"spearman": np.nan, "auroc": 0.5, "coverage": 1.0,
                          **{f"kept_wer@{r:.0%}": float(np.average(wer, weights=duration)) for r in RETENTIONS}}
    result = pd.DataFrame.from_dict(records, orient="index").rename_axis("score")
    order = [ORACLE, NO_FILTER] + list(result.drop([ORACLE, NO_FILTER])["auroc"].sort_values(ascending=False).index)
    result = result.loc[order]
    label_free = result.drop([ORACLE, NO_FILTER])
    plotted = [*label_free.index[:PLOTTED], label_free["kept_wer@70%"].idxmin()]  # best AUROCs, best kept set
    for name in dict.fromkeys(["combined", BASELINE, *plotted, ORACLE]):
        if name in candidates:
            fpr, tpr, _ = roc_curve(bad, -candidates[name])
            retention = np.linspace(0.1, 1.0, 19)
            curves[name] = {"roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
                            "retention": pd.DataFrame({"retention": retention, "kept_wer": [
                                kept_wer(candidates[name], wer, duration, r) for r in retention]})}
    return Validation(result, len(rows), int(bad.sum()), curves)


def markdown(validation: Validation) -> str:
    """The validation table as Markdown, best first, with the baseline marked."""
    shown = validation.table.copy()
    shown.index = [f"**{i}** (baseline)" if i == BASELINE else f"**{i}**" if i == "combined" else i for i in shown.index]
    header = (f"{validation.rows} clips with references, {validation.bad} of them with WER > {BAD_WER:.0%}. "
              "Spearman: correlation of the score's goodness with low WER (1 = perfect). AUROC: how well it "
              f"spots WER > {BAD_WER:.0%} (0.5 = chance). kept_wer@N%: duration-weighted WER of the best N % it keeps. "
              "coverage: share of clips the score exists for.\n\n")
    return header + markdown_table(shown.rename_axis("score")) + "\n"


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame (index as first column) as a Markdown table; floats to `digits` places, NaN as –."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "–" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join([cell(i), *(cell(v) for v in row)]) + " |" for i, row in zip(frame.index, frame.to_numpy())]
    return "\n".join(lines)


def write_report(ws: Workspace, validation: Validation) -> Path:
    """reports/validation.{csv,md}, roc.png and retention.png, each written atomically."""
    folder = ws.path(REPORTS)
    write_text_atomic(folder / "validation.csv", validation.table.to_csv(float_format="%.4f"))
    write_text_atomic(folder / "validation.md", markdown(validation))
    for name, figure in figures(validation).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        write_bytes_atomic(folder / f"{name}.png", buffer.getvalue())
    return folder


def figures(validation: Validation) -> dict:
    """Matplotlib figures: ROC curves and retention vs kept-set WER of the plotted scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for name, (kind, x, y, xlabel, ylabel) in {
        "roc": ("roc", "fpr", "tpr", "false positive rate (good labels rejected)", f"true positive rate (WER > {BAD_WER:.0%} caught)"),
        "retention": ("retention", "retention", "kept_wer", "share of clips kept", "kept-set WER (duration-weighted)"),
    }.items():
        figure, axis = plt.subplots(figsize=(6, 4.5))
        for score, curve in validation.curves.items():
            style = {"linewidth": 2.5} if score in ("combined", ORACLE) else {"linestyle": "--"} if score == BASELINE else {"alpha": 0.7}
            auroc = validation.table.loc[score, "auroc"]
            axis.plot(curve[kind][x], curve[kind][y], label=f"{score} (AUROC {auroc:.2f})", **style)
        if kind == "roc":
            axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        out[name] = figure
        plt.close(figure)
    return out


def validate_workspace(workspace: str | Path) -> Validation:
    """Validate a scored workspace's scores against its references and write the report."""
    ws = Workspace(workspace)
    ws.require_scores()
    validation = validate(ws.read_scores())
    write_report(ws, validation)
    return validation
