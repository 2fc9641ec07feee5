"""Combined: one label-free quality score from every score a workspace has, weighted by how informative each is.

Averaging everything does not work: on a mixed set an equal-weight rank average of six scores
(AUROC 0.81) lost to its best member, because weak audio-only scores dilute strong ones. So:

1. every score becomes a rank in [0, 1] with 1 = best (direction from the registry);
2. scores that measure the same thing form a family (teacher, proxy, ...); a row takes the most
   informative member its family has for it (e.g. word-level proxy agreement where the proxy reads
   the language, phoneme-level elsewhere);
3. families are averaged with weight (AUROC − 0.5)⁴, AUROC being each score's measured power to
   separate labels with WER ≤ 20 % from worse ones: a 0.89 score outweighs a 0.73 one 10 to 1.

With references on enough rows, `combined_tuned` fits a logistic regression on the ranks instead,
cross-validated: a labelled row only ever gets a prediction from a model fitted without it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.scores.ranking import goodness
from engine.scores.reference_wer import good_label

COLUMNS = {"combined": True, "combined_tuned": True}
ORDER = 10  # place in the registry: the app lists scores in this order
MIN_LABELLED = 30  # rows with references needed (and MIN_CLASS of each kind) before tuning
MIN_CLASS = 5
FOLDS = 5

# AUROC for "WER ≤ 20 %" of each score: confidence, proxy (tiny.en word / hama phoneme), lm and dnsmos as
# measured on the 262-clip mixed set of issue #5 (Whisper base teacher); the teacher's other scores, align
# and truncation as measured on the bundled demo (docs: `whisper-curator validate`). Missing = weak.
PRIOR_AUROC = {
    "confidence": 0.89, "min_token_prob": 0.86, "avg_logprob": 0.80, "entropy": 0.85,
    "proxy_wer": 0.87, "proxy_cer": 0.86, "proxy_per": 0.83,
    "lm_nll": 0.73, "align_score": 0.75, "truncation": 0.66,
    "dnsmos_ovrl": 0.57, "dnsmos_sig": 0.56, "dnsmos_bak": 0.55,
}
DEFAULT_AUROC = 0.6
def weight(column: str) -> float:
    """Informativeness weight of one score: (prior AUROC − 0.5)⁴, 0 for scores no better than chance."""
    return max(PRIOR_AUROC.get(column, DEFAULT_AUROC) - 0.5, 0.0) ** 4


def ranks(table: pd.DataFrame, columns: list[str], higher_is_better: dict[str, bool | None]) -> pd.DataFrame:
    """Each column as a percentile rank in [0, 1], 1 = best; NaN stays NaN."""
    return pd.DataFrame({c: goodness(table[c], bool(higher_is_better[c])) for c in columns}, index=table.index)


def combined(table: pd.DataFrame, higher_is_better: dict[str, bool | None]) -> np.ndarray:
    """Label-free quality of each row's pseudo-label, 0 to 1, higher = better; NaN where no score exists.

    Parameters: `table` with any of the registry's score columns; `higher_is_better` the registry.
    Returns: (N,) float32.
    """
    from engine.scores import FAMILIES

    total = np.zeros(len(table))
    weights = np.zeros(len(table))
    for members in FAMILIES.values():
        present = sorted((c for c in members if c in table), key=weight, reverse=True)
        if not present:
            continue
        r = ranks(table, present, higher_is_better)
        best = r.bfill(axis=1).iloc[:, 0].to_numpy()  # the most informative member each row has
        w = np.select([r[c].notna().to_numpy() for c in present], [weight(c) for c in present], 0.0)
        have = ~np.isnan(best)
        total[have] += w[have] * best[have]
        weights += np.where(have, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, total / weights, np.nan).astype(np.float32)


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
    values[labelled] = combined(scores, HIGHER_IS_BETTER)
    table["combined"] = values
    if "wer" in table:
        tuned = combined_tuned(scores, HIGHER_IS_BETTER, scores["wer"])
        if tuned is not None:
            table["combined_tuned"] = np.full(len(table), np.nan, dtype=np.float32)
            table.loc[labelled, "combined_tuned"] = tuned
    return table
