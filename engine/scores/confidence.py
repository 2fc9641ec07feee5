"""Teacher confidence: how sure the teacher was of its own greedy pseudo-label."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"confidence": True, "min_token_prob": True}
ORDER = 0  # place in the registry: the app lists scores in this order
FAMILIES = {"confidence": "teacher", "min_token_prob": "teacher"}  # combined's family of each column
NEEDS = TEACHER


def confidence(token_logprobs: Sequence[np.ndarray], no_speech_prob: np.ndarray, emptied: np.ndarray) -> np.ndarray:
    """Mean probability of the label's text tokens; one score per clip, 0 to 1, higher = more trustworthy.

    An empty label (the no-speech rule emptied it, or the teacher wrote nothing) is usually right —
    the clip is non-speech — so its confidence is `no_speech_prob`, not the probability of
    tokens the teacher discarded.

    Parameters: `token_logprobs` one (n_i,) array per clip; `no_speech_prob` (N,); `emptied` (N,) bool.
    Returns: (N,) float32.
    """
    return _token_probability(token_logprobs, no_speech_prob, emptied, np.mean)


def min_token_prob(token_logprobs: Sequence[np.ndarray], no_speech_prob: np.ndarray, emptied: np.ndarray) -> np.ndarray:
    """Probability of the label's least certain text token; 0 to 1, higher = more trustworthy.

    One bad word drags it down where the mean hides it. Empty labels follow `confidence`'s rule.
    Returns: (N,) float32.
    """
    return _token_probability(token_logprobs, no_speech_prob, emptied, np.min)


def _token_probability(token_logprobs, no_speech_prob, emptied, reduce) -> np.ndarray:
    no_speech_prob = np.asarray(no_speech_prob, dtype=np.float64)
    emptied = np.asarray(emptied, dtype=bool)
    if not (len(token_logprobs) == len(no_speech_prob) == len(emptied)):
        raise ValueError("token_logprobs, no_speech_prob and emptied must have one entry per clip")
    per_clip = np.array([reduce(np.exp(lp)) if len(lp) else np.nan for lp in token_logprobs])
    empty = emptied | np.isnan(per_clip)
    return np.where(empty, no_speech_prob, per_clip).astype(np.float32)


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    args = (p.values("token_logprobs"), p.values("no_speech_prob"), p.values("emptied"))
    return {"confidence": confidence(*args), "min_token_prob": min_token_prob(*args)}
