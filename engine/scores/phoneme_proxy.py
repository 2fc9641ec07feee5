"""Phoneme proxy agreement: phoneme error rate of the pseudo-label against a phoneme recogniser.

The label is turned into phonemes (G2P) and compared with what an independent phoneme ASR hears.
Like `proxy_wer`, the recogniser's output plays the reference; phonemes need no spelling, so
homophones, numbers and casing cost nothing.
"""
from __future__ import annotations

from collections.abc import Sequence

import jiwer
import numpy as np

COLUMNS = {"proxy_per": False}
ORDER = 120  # place in the registry: the app lists scores in this order
FAMILIES = {"proxy_per": "proxy"}  # combined's family of each column


def phoneme_error_rate(label_phonemes: Sequence[Sequence[str] | None],
                       heard_phonemes: Sequence[Sequence[str]]) -> np.ndarray:
    """Phoneme error rate of each label against the phonemes the recogniser heard: edits
    (substitutions, insertions, deletions) / phonemes heard; 0 up (can exceed 1), lower = better.

    NaN where the label has no phonemes to compare (None: a language the G2P or recogniser cannot
    handle). Nothing heard scores 0 for an empty label, else 1; an empty label scores 1 when
    something was heard.
    Returns: (N,) float32.
    """
    if len(label_phonemes) != len(heard_phonemes):
        raise ValueError("label_phonemes and heard_phonemes must have one entry per clip")
    out = np.full(len(label_phonemes), np.nan, dtype=np.float32)
    for i, (label, heard) in enumerate(zip(label_phonemes, heard_phonemes)):
        if label is None:
            continue
        if label and heard:
            out[i] = jiwer.wer(" ".join(heard), " ".join(label))
        else:
            out[i] = float(bool(label) != bool(heard))
    return out
