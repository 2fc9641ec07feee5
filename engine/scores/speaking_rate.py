"""Speaking rate of the label against the clip's duration: too fast means hallucinated text,
too slow means missed speech."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"chars_per_sec": None, "words_per_sec": None}
ORDER = 50  # place in the registry: the app lists scores in this order
NEEDS = TEACHER


def chars_per_sec(texts: Sequence[str], durations: np.ndarray) -> np.ndarray:
    """Non-space characters of the label per second; a band: read English is about 10–20,
    0 for an empty label, above about 30 is more text than anyone can say.
    Returns: (N,) float32.
    """
    return _rate([sum(not c.isspace() for c in t) for t in texts], durations)


def words_per_sec(texts: Sequence[str], durations: np.ndarray) -> np.ndarray:
    """Whitespace-separated words of the label per second; a band: conversational English is
    about 2–3.5 (languages without spaces count a sentence as one word).
    Returns: (N,) float32.
    """
    return _rate([len(t.split()) for t in texts], durations)


def _rate(counts: list[int], durations: np.ndarray) -> np.ndarray:
    durations = np.asarray(durations, dtype=np.float64)
    if len(counts) != len(durations):
        raise ValueError("texts and durations must have one entry per clip")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(durations > 0, np.asarray(counts) / durations, np.nan).astype(np.float32)


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    texts = p.values("text")
    return {"chars_per_sec": chars_per_sec(texts, p.durations), "words_per_sec": words_per_sec(texts, p.durations)}
