"""Scores as ranks: every score compared on one scale, 1 = best, whatever its direction or units."""
from __future__ import annotations

import pandas as pd


def goodness(values: pd.Series, higher: bool) -> pd.Series:
    """`values` as a percentile rank in (0, 1], 1 = best in direction `higher`; NaN stays NaN."""
    ranked = values.astype(float).rank(pct=True, method="average")
    return ranked if higher else 1.0 - ranked + 1.0 / ranked.count()
