"""WER and CER of the pseudo-label against a human reference: the supervised filter and the oracle."""
from __future__ import annotations

from collections.abc import Sequence

import jiwer
import numpy as np

from engine.text import normalize

COLUMNS = {"wer": False, "cer": False}
ORDER = 160  # place in the registry: the app lists scores in this order
GOOD_WER = 0.2  # a pseudo-label with WER at most this is good (Distil-Whisper's filters keep far less)
FLOAT32_SLACK = 1e-6  # WER is stored as float32: 1/5 reads back as 0.2000000030


def good_label(wer: np.ndarray) -> np.ndarray:
    """True where a pseudo-label's WER is at most GOOD_WER (so 1 error in 5 words is good); NaN is not good."""
    return np.asarray(wer, dtype=np.float64) <= GOOD_WER + FLOAT32_SLACK


def wer(references: Sequence[str | None], hypotheses: Sequence[str], langs: Sequence[str | None]) -> np.ndarray:
    """Word error rate after Whisper normalisation; one per clip, 0 up (can exceed 1), lower = better.

    NaN where there is no reference. An empty reference scores 0 for an empty label, else 1.
    """
    return _error_rates(references, hypotheses, langs, jiwer.wer)


def cer(references: Sequence[str | None], hypotheses: Sequence[str], langs: Sequence[str | None]) -> np.ndarray:
    """Character error rate after Whisper normalisation; same conventions as `wer`."""
    return _error_rates(references, hypotheses, langs, jiwer.cer)


def _error_rates(references, hypotheses, langs, measure) -> np.ndarray:
    if not (len(references) == len(hypotheses) == len(langs)):
        raise ValueError("references, hypotheses and langs must have one entry per clip")
    out = np.full(len(references), np.nan, dtype=np.float32)
    for i, (ref, hyp, lang) in enumerate(zip(references, hypotheses, langs)):
        if ref is None:
            continue
        ref_n, hyp_n = normalize(ref, lang), normalize(hyp or "", lang)
        if ref_n and hyp_n:
            out[i] = measure(ref_n, hyp_n)
        else:
            out[i] = float(bool(ref_n) != bool(hyp_n))  # one side empty: all wrong; both: right
    return out
