"""Label length in tokens: how many text tokens the teacher's greedy label has."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"label_tokens": None}  # a band: a label at the token limit is a loop, a very short one may be cut
ORDER = 65  # beside repetition and the speaking rates
NEEDS = TEACHER


def label_tokens(tokens: Sequence[Sequence[int]]) -> np.ndarray:
    """Number of text tokens in each greedy label (before Whisper's no-speech rule empties any).

    Range 0 to the label limit (225 by default); neither end is better: the recipe sets a band.
    Returns: (N,) float32.
    """
    return np.array([len(t) for t in tokens], dtype=np.float32)


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    return {"label_tokens": label_tokens(p.values("tokens"))}
