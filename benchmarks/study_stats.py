"""Statistics of the evidence study (benchmarks/study.py): contamination levels, kept-set metrics, and
bootstrap confidence intervals of student WERs over test clips and seeds, paired between arms."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.scores.calibration import kept_wer_estimate
from engine.scores.reference_wer import good_label

BOOTSTRAP = 2000
CONFIDENCE = 0.95


def contaminated_pool(table: pd.DataFrame, share_bad: float, seed: int) -> pd.DataFrame:
    """The largest subset of `table`'s referenced rows whose share of labels with WER > 20 % is `share_bad`:
    every row of the scarcer kind for that share, a seeded sample of the other."""
    rows = table[table["wer"].notna() & table["pseudo_label"].notna()]
    bad = ~good_label(rows["wer"].to_numpy())
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    rng = np.random.default_rng(seed)
    if n_bad / max(len(rows), 1) > share_bad:  # too many bad ones: keep every good one
        keep_bad, keep_good = int(round(n_good * share_bad / (1 - share_bad))), n_good
    else:
        keep_bad, keep_good = n_bad, int(round(n_bad * (1 - share_bad) / share_bad))
    chosen = np.concatenate([rng.choice(np.flatnonzero(bad), min(keep_bad, n_bad), replace=False),
                             rng.choice(np.flatnonzero(~bad), min(keep_good, n_good), replace=False)])
    return rows.iloc[np.sort(chosen)]


def kept_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """Label quality of a kept set: duration-weighted WER, duration-weighted WER capped at 1 per clip,
    mean of min(WER, 1), clips with WER > 1, and the label-free estimate of the capped WER (1 − combined)."""
    wer, duration = rows["wer"].to_numpy(dtype=float), rows["duration"].to_numpy(dtype=float)
    estimate = 1 - rows["combined"].to_numpy(dtype=float) if "combined" in rows else np.full(len(rows), np.nan)
    return {"clips": len(rows), "hours": duration.sum() / 3600,
            "wer": float(np.average(wer, weights=duration)),
            "capped_wer": float(np.average(np.minimum(wer, 1), weights=duration)),
            "mean_min_wer_1": float(np.mean(np.minimum(wer, 1))),
            "over_1": int((wer > 1).sum()),
            "estimated_capped_wer": kept_wer_estimate(estimate, duration)}


@dataclass
class Interval:
    mean: float
    low: float
    high: float

    def text(self, digits: int = 3) -> str:
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def resampled_wers(errors: np.ndarray, words: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Corpus WER of each bootstrap draw: `errors` is (seeds, clips) of one arm; each draw resamples clips
    and seeds with replacement and averages the seeds' corpus WERs. Returns (BOOTSTRAP,)."""
    seeds, clips = errors.shape
    clip_draws = rng.integers(clips, size=(BOOTSTRAP, clips))
    seed_draws = rng.integers(seeds, size=(BOOTSTRAP, seeds))
    per_seed = errors[:, clip_draws].sum(axis=2) / words[clip_draws].sum(axis=1)  # (seeds, BOOTSTRAP)
    return np.take_along_axis(per_seed.T, seed_draws, axis=1).mean(axis=1)


def interval(draws: np.ndarray, mean: float) -> Interval:
    tail = (1 - CONFIDENCE) / 2 * 100
    return Interval(mean, float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail)))


def arm_intervals(errors: dict[str, np.ndarray], words: np.ndarray, baseline: str, seed: int = 0
                  ) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """Per arm: mean corpus WER over seeds with its interval; and the paired difference arm − `baseline`
    (the same clip and seed draws for both, seeds matched by index) with its interval. `errors[arm]` is
    (seeds, clips) word errors on the test clips, `words` (clips,) reference words."""
    # the same generator state for every arm gives the same clip and seed draws: a paired bootstrap
    draws = {arm: resampled_wers(e, words, np.random.default_rng(seed)) for arm, e in errors.items()}
    wers = {arm: interval(draws[arm], float(np.mean(e.sum(axis=1) / words.sum()))) for arm, e in errors.items()}
    base = errors[baseline]
    differences = {arm: interval(draws[arm] - draws[baseline], wers[arm].mean - wers[baseline].mean)
                   for arm, e in errors.items() if arm != baseline and e.shape == base.shape}
    return wers, differences
