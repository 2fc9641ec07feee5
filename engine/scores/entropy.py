"""Teacher entropy: how spread the teacher's next-token distribution was along the label."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"entropy": False}
ORDER = 20  # place in the registry: the app lists scores in this order
FAMILIES = {"entropy": "teacher"}  # combined's family of each column
NEEDS = TEACHER


def entropy(token_entropies: Sequence[np.ndarray], no_speech_prob: np.ndarray, emptied: np.ndarray) -> np.ndarray:
    """Mean per-token entropy in nats; one score per clip, 0 up to ln(vocab) ≈ 10.9, lower = surer.

    For an empty label the uncertainty that matters is speech vs no speech: the binary entropy
    of `no_speech_prob` (0 when the teacher is sure, ln 2 at 50/50).
    Returns: (N,) float32.
    """
    p = np.clip(np.asarray(no_speech_prob, dtype=np.float64), 1e-12, 1 - 1e-12)
    if not (len(token_entropies) == len(p) == len(emptied)):
        raise ValueError("token_entropies, no_speech_prob and emptied must have one entry per clip")
    binary = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    mean = np.array([np.mean(h) if len(h) else np.nan for h in token_entropies])
    empty = np.asarray(emptied, dtype=bool) | np.isnan(mean)
    return np.where(empty, binary, mean).astype(np.float32)


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    return {"entropy": entropy(p.values("token_entropies"), p.values("no_speech_prob"), p.values("emptied"))}
