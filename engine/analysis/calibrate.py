"""Fit the calibration of `engine.scores.calibration` on a scored workspace with references (a
development corpus): which label-free scores enter the estimate, their curves and weights.

Target: each clip's reference WER capped at 1 (a looping label counts as wholly wrong, not as five
times wrong). A score enters only when it lowers the cross-validated kept-set WER at RETENTIONS — the
quantity a user filters for — by at least MIN_GAIN (relative), so a score that ranks well but adds
nothing to the others stays out. Fit-time checks (out-of-fold estimated vs true kept-set WER) go into
the calibration's `source`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from engine.analysis.validate import RETENTIONS
from engine.scores.calibration import Calibration, Curve, Feature, kept_wer_estimate, stacked
from engine.scores.reference_wer import good_label

FOLDS = 5
MIN_GAIN = 0.01  # a score enters when it lowers the cross-validated kept-set WER by at least 1 % of it
NOT_INPUTS = ("combined", "combined_tuned")


def capped_wer(wer: np.ndarray) -> np.ndarray:
    """Per-clip WER capped at 1: the calibration's target and the study's kept-set measure."""
    return np.minimum(np.asarray(wer, dtype=np.float64), 1.0)


def curve(x: np.ndarray, y: np.ndarray, lower_is_better: bool) -> Curve:
    """Isotonic fit of y on x (WER rising with x when lower is better), as knots."""
    from sklearn.isotonic import IsotonicRegression

    have = ~np.isnan(x)
    fit = IsotonicRegression(increasing=lower_is_better, y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x[have], y[have])
    return Curve(tuple(map(float, fit.X_thresholds_)), tuple(map(float, fit.y_thresholds_)))


def fitted_feature(table: pd.DataFrame, column: str, y: np.ndarray, higher: bool | None) -> Feature:
    """One score's curve; a band score (`higher` None) is measured as distance from its median."""
    center = None
    if higher is None:
        center = float(np.nanmedian(pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)))
    probe = Feature(column, 1.0, Curve((0.0,), (0.0,)), center)
    return Feature(column, 1.0, curve(probe.values(table), y, lower_is_better=higher is not True), center)


def fitted_weights(table: pd.DataFrame, features: list[Feature], y: np.ndarray) -> list[Feature]:
    """The features with weights ≥ 0 (summing to 1) that minimise the squared error of the stacked estimate."""
    from scipy.optimize import minimize

    if len(features) == 1:
        return [replace(features[0], weight=1.0)]

    def loss(w: np.ndarray) -> float:
        estimate = stacked(table, tuple(replace(f, weight=float(v)) for f, v in zip(features, w)))
        have = ~np.isnan(estimate)
        return float(np.mean((estimate[have] - y[have]) ** 2)) if have.any() else 1.0

    start = np.full(len(features), 1.0 / len(features))
    w = minimize(loss, start, bounds=[(1e-6, 1.0)] * len(features), method="L-BFGS-B").x
    return [replace(f, weight=float(v / w.sum())) for f, v in zip(features, w)]


def fitted(table: pd.DataFrame, columns: list[str], y: np.ndarray, higher: dict[str, bool | None]) -> Calibration:
    """A calibration over `columns`: curves, weights, then a final monotone curve on the stack."""
    features = fitted_weights(table, [fitted_feature(table, c, y, higher[c]) for c in columns], y)
    stack = stacked(table, tuple(features))
    return Calibration(tuple(features), curve(stack, y, lower_is_better=True))


def out_of_fold(table: pd.DataFrame, columns: list[str], y: np.ndarray, higher: dict[str, bool | None],
                seed: int) -> np.ndarray:
    """Each row's estimate from a calibration fitted without it (FOLDS-fold)."""
    from sklearn.model_selection import KFold

    estimate = np.full(len(table), np.nan)
    for fit, held in KFold(FOLDS, shuffle=True, random_state=seed).split(table):
        calibration = fitted(table.iloc[fit], columns, y[fit], higher)
        estimate[held] = calibration.estimated(table.iloc[held])
    return estimate


def kept_wers(estimate: np.ndarray, y: np.ndarray, duration: np.ndarray) -> dict[float, tuple[float, float]]:
    """At each retention: (true, estimated) duration-weighted capped WER of the clips with the lowest estimates."""
    order = np.argsort(np.where(np.isnan(estimate), np.inf, estimate), kind="stable")
    out = {}
    for retention in RETENTIONS:
        keep = order[: max(1, int(round(retention * len(order))))]
        out[retention] = (float(np.average(y[keep], weights=duration[keep])), kept_wer_estimate(estimate[keep], duration[keep]))
    return out


def cv_kept_wer(table: pd.DataFrame, columns: list[str], y: np.ndarray, duration: np.ndarray,
                higher: dict[str, bool | None], seed: int) -> float:
    """Mean over RETENTIONS of the true kept-set WER when the out-of-fold estimate chooses."""
    checks = kept_wers(out_of_fold(table, columns, y, higher, seed), y, duration)
    return float(np.mean([true for true, _ in checks.values()]))


def candidate_columns(table: pd.DataFrame) -> list[str]:
    """The registry's label-free scores (band scores too) this table has values for, combined excepted."""
    from engine.scores import HIGHER_IS_BETTER, REFERENCE_COLUMNS

    return [c for c in HIGHER_IS_BETTER if c not in (*REFERENCE_COLUMNS, *NOT_INPUTS) and c in table
            and pd.to_numeric(table[c], errors="coerce").notna().sum() > 1]


def selected_columns(table: pd.DataFrame, y: np.ndarray, duration: np.ndarray, higher: dict[str, bool | None],
                     seed: int, log=print) -> tuple[list[str], list[dict]]:
    """Forward selection: add the score that lowers the cross-validated kept-set WER most, while it lowers
    it by at least MIN_GAIN. Returns the chosen columns and each round's best candidate (chosen or not)."""
    candidates = candidate_columns(table)
    chosen: list[str] = []
    rounds: list[dict] = []
    best = np.inf
    while len(chosen) < len(candidates):
        trials = {c: cv_kept_wer(table, [*chosen, c], y, duration, higher, seed) for c in candidates if c not in chosen}
        column, value = min(trials.items(), key=lambda item: item[1])
        entered = bool(value < best * (1 - MIN_GAIN))
        rounds.append({"column": column, "cv_kept_wer": value, "entered": entered})
        log(f"  {'+' if entered else '-'} {column}: cross-validated kept-set WER {value:.4f}"
            + ("" if best == np.inf else f" (with the chosen ones: {best:.4f})"))
        if not entered:
            break
        chosen.append(column)
        best = value
    return chosen, rounds


def calibrate(table: pd.DataFrame, seed: int = 0, log=print) -> Calibration:
    """The calibration fitted on the ok, labelled rows of `table` that have a reference `wer`; its `source`
    holds the rows used, the columns tried and the out-of-fold check at RETENTIONS."""
    from engine.scores import HIGHER_IS_BETTER

    rows = table[(table["status"] == "ok") & table["pseudo_label"].notna() & table["wer"].notna()].reset_index(drop=True)
    y, duration = capped_wer(rows["wer"].to_numpy()), rows["duration"].fillna(1.0).to_numpy(dtype=np.float64)
    columns, rounds = selected_columns(rows, y, duration, HIGHER_IS_BETTER, seed, log)
    if not columns:
        raise ValueError("no label-free score lowers the kept-set WER on this workspace; nothing to calibrate")
    checks = kept_wers(out_of_fold(rows, columns, y, HIGHER_IS_BETTER, seed), y, duration)
    source = {"clips": len(rows), "bad": int((~good_label(rows["wer"].to_numpy())).sum()),
              "tried": candidate_columns(rows), "selection": rounds,
              "out_of_fold": {f"{r:.0%}": {"true": t, "estimated": e} for r, (t, e) in checks.items()},
              "max_abs_error": max(abs(t - e) for t, e in checks.values())}
    return replace(fitted(rows, columns, y, HIGHER_IS_BETTER), source=source)
