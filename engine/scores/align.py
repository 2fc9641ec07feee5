"""Alignment: how well the audio supports the pseudo-label, by CTC forced alignment.

A phoneme CTC model gives, per audio frame, a distribution over phonemes and blank. The label's
phonemes have probability P(label | audio): the sum over every frame-level path that collapses
to them (the CTC forward algorithm). Compared with the model's own best path and divided by the
label's length, it becomes a per-phoneme log-likelihood ratio that is comparable across clips of
any length: how much less likely, per phoneme, the label is than what the model hears best.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = {"align_score": True}
ORDER = 130  # place in the registry: the app lists scores in this order
FAMILIES = {"align_score": "align"}  # combined's family of each column
BLANK = 0  # column of the CTC blank in the log-posterior matrices
FLOOR = -20.0  # per-unit score of a label that cannot fit the audio at all (more units than frames)


def align_score(log_probs: Sequence[np.ndarray], targets: Sequence[Sequence[int] | None]) -> np.ndarray:
    """Per-unit CTC alignment score of each label; ≤ about 0, higher = better, floored at −20.

    `log_probs[i]` is clip i's (T, V) frame log-posteriors (column `BLANK` = blank), `targets[i]`
    the label's unit ids (never `BLANK`), None where the label cannot be read (NaN out).
    Score = (log P(label | audio) − log P(best path)) / len(label): 0 when the label is what the
    model hears best, about −1 to −3 for a label with some wrong phonemes, −5 and below for an
    unrelated one. It can exceed 0 a little, since P(label) sums over all its alignments.
    An empty label is scored the same way against "nothing", per unit the model hears instead:
    (log P(all blank) − log P(best path)) / max(1, units on the best path): 0 for silence, very
    negative where the model hears speech.
    Returns: (N,) float32; NaN for an unreadable label or a clip with no frames.
    """
    if len(log_probs) != len(targets):
        raise ValueError("log_probs and targets must have one entry per clip")
    return np.array([_score(np.asarray(lp, dtype=np.float64), t) for lp, t in zip(log_probs, targets)],
                    dtype=np.float32)


def _score(log_probs: np.ndarray, target: Sequence[int] | None) -> float:
    if target is None or len(log_probs) == 0:
        return np.nan
    best = float(log_probs.max(axis=1).sum())
    units = len(target) or max(1, len(best_path(log_probs)))
    return max((ctc_log_likelihood(log_probs, target) - best) / units, FLOOR)


def best_path(log_probs: np.ndarray) -> list[int]:
    """The unit ids on the frame-wise most likely path, repeats merged and blanks dropped."""
    ids = log_probs.argmax(axis=1)
    keep = np.r_[True, ids[1:] != ids[:-1]] & (ids != BLANK)
    return ids[keep].tolist()


def ctc_log_likelihood(log_probs: np.ndarray, target: Sequence[int]) -> float:
    """log P(target | audio) under CTC: log-sum over all frame paths that collapse to `target`.

    Parameters: `log_probs` (T, V) frame log-posteriors, column `BLANK` = blank; `target` (L,)
    unit ids. Returns −inf when the target cannot fit in T frames.
    """
    states = np.full(2 * len(target) + 1, BLANK)
    states[1::2] = target
    # A path may jump over a blank between two different units (not between repeats).
    can_skip = np.zeros(len(states), dtype=bool)
    can_skip[3::2] = states[3::2] != states[1:-2:2]
    alpha = np.full(len(states), -np.inf)
    alpha[:2] = log_probs[0, states[:2]]
    with np.errstate(divide="ignore"):
        for frame in log_probs[1:]:
            stay_or_step = np.logaddexp(alpha, _shifted(alpha, 1))
            skip = np.where(can_skip, _shifted(alpha, 2), -np.inf)
            alpha = np.logaddexp(stay_or_step, skip) + frame[states]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(states) > 1 else alpha[-1])


def _shifted(alpha: np.ndarray, by: int) -> np.ndarray:
    """`alpha` moved `by` states later, −inf shifted in."""
    return np.r_[np.full(by, -np.inf), alpha][: len(alpha)]
