"""Repetition: the share of the label's word n-grams that repeat an earlier one (hallucination loops)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass
from engine.text import normalize

COLUMNS = {"repetition": False}
ORDER = 60  # place in the registry: the app lists scores in this order
NEEDS = TEACHER


def repetition(texts: Sequence[str], langs: Sequence[str | None], n: int = 3) -> np.ndarray:
    """Share of word n-grams (default trigrams) that already occurred in the same label;
    0 to 1, lower = better. "the cat the cat the cat" scores 0.5; NaN for labels under n words.
    Returns: (N,) float32.
    """
    if len(texts) != len(langs):
        raise ValueError("texts and langs must have one entry per clip")
    out = np.full(len(texts), np.nan, dtype=np.float32)
    for i, (text, lang) in enumerate(zip(texts, langs)):
        words = normalize(text or "", lang).split()
        grams = [tuple(words[j : j + n]) for j in range(len(words) - n + 1)]
        if grams:
            out[i] = 1 - len(set(grams)) / len(grams)
    return out


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    return {"repetition": repetition(p.values("text"), p.values("lang"))}
