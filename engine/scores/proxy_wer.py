"""Proxy agreement: WER and CER of the pseudo-label against an independent ASR model's transcript.

No reference needed: where a second model hears something else, one of the two is wrong, and on
noise, babble and non-speech it is usually the teacher's fluent hallucination. The proxy's
transcript plays the reference, with the conventions (and Whisper normalisation) of `wer`/`cer`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores import reference_wer

COLUMNS = {"proxy_wer": False, "proxy_cer": False}
ORDER = 110  # place in the registry: the app lists scores in this order
FAMILIES = {"proxy_wer": "proxy", "proxy_cer": "proxy"}  # combined's family of each column


def proxy_wer(labels: Sequence[str], proxy_texts: Sequence[str | None], langs: Sequence[str | None]) -> np.ndarray:
    """Word error rate of each pseudo-label against the proxy's transcript; 0 up (can exceed 1),
    lower = better (the two models agree).

    NaN where the proxy gave no transcript (None: a language it cannot read). An empty transcript
    scores 0 for an empty label (both hear no speech), else 1.
    Returns: (N,) float32.
    """
    return reference_wer.wer(proxy_texts, labels, langs)


def proxy_cer(labels: Sequence[str], proxy_texts: Sequence[str | None], langs: Sequence[str | None]) -> np.ndarray:
    """Character error rate of each pseudo-label against the proxy's transcript; same conventions as `proxy_wer`."""
    return reference_wer.cer(proxy_texts, labels, langs)
