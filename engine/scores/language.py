"""Language identification from the teacher's own encoder pass."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"lang_prob": True, "lang_mismatch": False}
ORDER = 40  # place in the registry: the app lists scores in this order
NEEDS = TEACHER


def lang_prob(probabilities: Sequence[float]) -> np.ndarray:
    """Probability of the detected language; 0 to 1, higher = the teacher is sure what it hears.

    Low on non-speech, mixed-language and heavily corrupted clips.
    Returns: (N,) float32.
    """
    return np.asarray(probabilities, dtype=np.float32)


def lang_mismatch(stated: Sequence[str | None], detected: Sequence[str | None]) -> np.ndarray:
    """1 where the input states a language and the teacher detects another, 0 where they agree,
    NaN where either is unknown; lower = better.
    Returns: (N,) float32.
    """
    if len(stated) != len(detected):
        raise ValueError("stated and detected must have one entry per clip")
    return np.array([np.nan if not s or not d else float(s.split("-")[0].lower() != d) for s, d in zip(stated, detected)],
                    dtype=np.float32)


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    detected = p.values("detected_lang")
    return {"detected_lang": np.array([lang or "" for lang in detected], dtype=object),
            "lang_prob": lang_prob(p.values("lang_prob")),
            "lang_mismatch": lang_mismatch(p.stated_langs, detected)}
