"""Combined: one label-free quality score per clip, 1 − its estimated WER.

The estimate comes from `engine.scores.calibration`: the label-free scores that lowered the kept-set
WER on a development corpus, each mapped to WER by a monotone curve fitted there, weighted and
recalibrated (`benchmarks/calibrate.py` writes `calibration.json` and says which corpus). So the value
means the same in every workspace, and the mean of 1 − combined over a kept set estimates its WER.

With references on enough rows, `combined_tuned` fits a logistic regression on the ranks instead,
cross-validated: a labelled row only ever gets a prediction from a model fitted without it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.scores.calibration import Calibration, estimated_wer
from engine.scores.ranking import goodness
from engine.scores.reference_wer import good_label

COLUMNS = {"combined": True, "combined_tuned": True}
ORDER = 10  # place in the registry: the app lists scores in this order
MIN_LABELLED = 30  # rows with references needed (and MIN_CLASS of each kind) before tuning
MIN_CLASS = 5
FOLDS = 5


def ranks(table: pd.DataFrame, columns: list[str], higher_is_better: dict[str, bool | None]) -> pd.DataFrame:
    """Each column as a percentile rank in [0, 1], 1 = best; NaN stays NaN."""
    return pd.DataFrame({c: goodness(table[c], bool(higher_is_better[c])) for c in columns}, index=table.index)


def combined(table: pd.DataFrame, calibration: Calibration | None = None) -> np.ndarray:
    """Label-free quality of each row's pseudo-label: 1 − estimated WER (capped at 1), 0 to 1, higher =
    better; NaN where the row has none of the calibrated scores (or nothing is calibrated).

    Parameters: `table` with any of the calibrated score columns; `calibration` the shipped one by default.
    Returns: (N,) float32.
    """
    return (1.0 - estimated_wer(table, calibration)).astype(np.float32)


def combined_tuned(table: pd.DataFrame, higher_is_better: dict[str, bool | None], wer: pd.Series,
                   seed: int = 0) -> np.ndarray | None:
    """Probability that the label has WER ≤ 20 %, from a logistic regression on the label-free ranks,
    fitted on the rows that have a reference WER; None when too few rows have one.

    Labelled rows get out-of-fold predictions (5-fold), the others the model fitted on all labelled rows.
    Returns: (N,) float32 or None.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from engine.scores import FAMILIES

    columns = [c for members in FAMILIES.values() for c in members if c in table and table[c].notna().any()]
    labelled = wer.notna().to_numpy()
    good = good_label(wer[labelled].to_numpy())
    if not columns or labelled.sum() < MIN_LABELLED or min(good.sum(), (~good).sum()) < MIN_CLASS:
        return None
    features = ranks(table, columns, higher_is_better).fillna(0.5).to_numpy()
    out = np.full(len(table), np.nan)
    model = LogisticRegression(C=1.0, max_iter=1000)
    rows = np.flatnonzero(labelled)
    for fit, held in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(rows, good):
        out[rows[held]] = model.fit(features[rows[fit]], good[fit]).predict_proba(features[rows[held]])[:, 1]
    if (~labelled).any():
        out[~labelled] = model.fit(features[rows], good).predict_proba(features[~labelled])[:, 1]
    return out.astype(np.float32)


def with_combined(table: pd.DataFrame) -> pd.DataFrame:
    """The table with `combined` (and `combined_tuned` where references allow) recomputed on the rows
    the teacher labelled."""
    from engine.scores import HIGHER_IS_BETTER

    table = table.drop(columns=list(COLUMNS), errors="ignore")
    labelled = table["pseudo_label"].notna().to_numpy()
    scores = table[labelled]
    values = np.full(len(table), np.nan, dtype=np.float32)
    values[labelled] = combined(scores)
    table["combined"] = values
    if "wer" in table:
        tuned = combined_tuned(scores, HIGHER_IS_BETTER, scores["wer"])
        if tuned is not None:
            table["combined_tuned"] = np.full(len(table), np.nan, dtype=np.float32)
            table.loc[labelled, "combined_tuned"] = tuned
    return table
