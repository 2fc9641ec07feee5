"""The calibration that turns label-free scores into an estimated WER per clip: plain numbers read from
`calibration.json`, which `benchmarks/calibrate.py` fits on a development corpus (never on data a
reported number comes from) and says where.

Each chosen score maps to an estimated WER (capped at 1) by a monotone step curve: `knots_x` ascending,
`knots_y` the estimate there, linear in between, flat outside. A band score (a speaking rate: best in the
middle) is first turned into its distance from the development corpus's median. A clip's
estimate is the weighted mean of the curves of the scores it has (weights ≥ 0, renormalised over the
present ones), passed once more through a monotone `final` curve that keeps the mean calibrated. A step
curve is flat between its steps, so a share `TIE_BREAK` of the estimate follows the scores' own order: clips
on one step still rank as their scores do, and no estimate moves by more than that share.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
TIE_BREAK = 1e-3  # share of the estimate that follows the scores' order: above float32's step, far below the fit's error


@dataclass(frozen=True)
class Curve:
    """A monotone map from a value to an estimated WER in [0, 1]."""

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Estimated WER at each value; NaN stays NaN."""
        values = np.asarray(values, dtype=np.float64)
        out = np.interp(values, self.knots_x, self.knots_y)
        return np.where(np.isnan(values), np.nan, out)

    def order(self, values: np.ndarray) -> np.ndarray:
        """A strictly monotone map of the values into (0, 1), rising where the curve rises (constant for a
        flat curve); NaN stays NaN."""
        values = np.asarray(values, dtype=np.float64)
        low, high = self.knots_x[0], self.knots_x[-1]
        squashed = 0.5 + np.arctan((values - (low + high) / 2) / ((high - low) / 2 or 1.0)) / np.pi
        rise = np.sign(self.knots_y[-1] - self.knots_y[0])
        return 0.5 + rise * (squashed - 0.5)


@dataclass(frozen=True)
class Feature:
    """One score the estimate uses: its column, its weight, its curve and, for a band score, the band's centre."""

    column: str
    weight: float
    curve: Curve
    band_center: float | None = None

    def values(self, table: pd.DataFrame) -> np.ndarray:
        """The column as the curve reads it: raw, or a band score's distance from the centre."""
        raw = pd.to_numeric(table[self.column], errors="coerce").to_numpy(dtype=np.float64) \
            if self.column in table else np.full(len(table), np.nan)
        return raw if self.band_center is None else np.abs(raw - self.band_center)


@dataclass(frozen=True)
class Calibration:
    features: tuple[Feature, ...]
    final: Curve
    source: dict = field(default_factory=dict)  # command, corpus, clips, fit-time checks

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        features = tuple(Feature(f["column"], f["weight"], Curve(tuple(f["curve"]["knots_x"]), tuple(f["curve"]["knots_y"])),
                                 f.get("band_center")) for f in data["features"])
        final = Curve(tuple(data["final"]["knots_x"]), tuple(data["final"]["knots_y"]))
        return cls(features, final, data.get("source", {}))

    def estimated(self, table: pd.DataFrame) -> np.ndarray:
        """Estimated WER of each row (see `estimated_wer`)."""
        return (1 - TIE_BREAK) * self.final(stacked(table, self.features)) \
            + TIE_BREAK * stacked(table, self.features, of=Curve.order)


@lru_cache(maxsize=1)
def shipped() -> Calibration | None:
    """The calibration that ships with the package, or None when there is none."""
    return Calibration.from_json(CALIBRATION_FILE.read_text()) if CALIBRATION_FILE.is_file() else None


def stacked(table: pd.DataFrame, features: tuple[Feature, ...], of=Curve.__call__) -> np.ndarray:
    """Weighted mean over the present features of their curves' estimates (or of another map of the curve,
    `of(curve, values)`); NaN where none is present."""
    total, weights = np.zeros(len(table)), np.zeros(len(table))
    for feature in features:
        estimate = of(feature.curve, feature.values(table))
        have = ~np.isnan(estimate)
        total[have] += feature.weight * estimate[have]
        weights[have] += feature.weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, total / weights, np.nan)


def estimated_wer(table: pd.DataFrame, calibration: Calibration | None = None) -> np.ndarray:
    """Estimated WER of each row's pseudo-label (capped at 1), 0 to 1, lower = better; NaN where the row
    has none of the calibrated scores or no calibration exists."""
    calibration = calibration or shipped()
    if calibration is None:
        return np.full(len(table), np.nan)
    return calibration.estimated(table)


def kept_wer_estimate(estimates: np.ndarray, durations: np.ndarray) -> float:
    """Estimated duration-weighted WER of a kept set from its clips' estimates (NaN ones left out);
    NaN for an empty set."""
    estimates, durations = np.asarray(estimates, dtype=np.float64), np.asarray(durations, dtype=np.float64)
    have = ~np.isnan(estimates) & (durations > 0)
    return float(np.average(estimates[have], weights=durations[have])) if have.any() else float("nan")


def measured_error() -> float | None:
    """The shipped calibration's largest error of the estimated kept-set WER at 50/70/90 % retention,
    measured out of fold on its development corpus; None without a calibration."""
    calibration = shipped()
    return calibration.source.get("max_abs_error") if calibration else None
