"""The signals Whisper itself uses to detect failed decodes: avg_logprob, no_speech_prob, compression ratio."""
from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import TEACHER, TeacherPass

COLUMNS = {"avg_logprob": True, "no_speech_prob": False, "compression_ratio": False}
ORDER = 30  # place in the registry: the app lists scores in this order
FAMILIES = {"avg_logprob": "teacher"}  # combined's family of each column
NEEDS = TEACHER


def avg_logprob(token_logprobs: Sequence[np.ndarray], eot_logprob: np.ndarray) -> np.ndarray:
    """Summed log-probability of label + end-of-text over (tokens + 1), as Whisper computes it;
    one per clip, -inf to 0, higher = better. Whisper retries a decode below -1.
    Returns: (N,) float32.
    """
    if len(token_logprobs) != len(eot_logprob):
        raise ValueError("token_logprobs and eot_logprob must have one entry per clip")
    return np.array([(lp.sum() + eot) / (len(lp) + 1) for lp, eot in zip(token_logprobs, eot_logprob)],
                    dtype=np.float32)


def no_speech_prob(probabilities: Sequence[float]) -> np.ndarray:
    """Probability of Whisper's no-speech token at the first decoding step; 0 to 1, lower = more
    likely speech. Whisper empties a label above 0.6 when avg_logprob is also below -1.
    Returns: (N,) float32.
    """
    return np.asarray(probabilities, dtype=np.float32)


def compression_ratio(texts: Sequence[str]) -> np.ndarray:
    """UTF-8 length over gzip length of the label; about 1 to 10+, lower = less repetitive.

    Whisper treats above 2.4 as a repetition loop. Short labels compress badly, so on clips
    under a few words it says little. NaN for an empty label.
    Returns: (N,) float32.
    """
    out = np.full(len(texts), np.nan, dtype=np.float32)
    for i, text in enumerate(texts):
        if text:
            data = text.encode("utf-8")
            out[i] = len(data) / len(zlib.compress(data))
    return out


def compute(p: TeacherPass) -> dict[str, np.ndarray]:
    return {"avg_logprob": avg_logprob(p.values("token_logprobs"), p.values("eot_logprob")),
            "no_speech_prob": no_speech_prob(p.values("no_speech_prob")),
            "compression_ratio": compression_ratio(p.values("text"))}
