"""Scores: one module per score, each a pure function from arrays to one number per clip.

Every module declares `COLUMNS`: the columns it writes and, for each, whether higher is better
(True), lower is better (False), or neither (None: a plausible band, the recipe decides).
The registry below is what the pipeline, the UI and the validator read.
"""
from __future__ import annotations

from engine.scores import (
    align,
    clipping,
    combined,
    confidence,
    dnsmos,
    entropy,
    language,
    lm_likelihood,
    loudness,
    phoneme_proxy,
    proxy_wer,
    reference_wer,
    repetition,
    speaking_rate,
    speech_ratio,
    truncation,
    whisper_rules,
)

MODULES = (confidence, combined, entropy, whisper_rules, language, speaking_rate, repetition, speech_ratio,
           truncation, clipping, loudness, proxy_wer, phoneme_proxy, align, lm_likelihood, dnsmos,
           reference_wer)
HIGHER_IS_BETTER: dict[str, bool | None] = {col: d for m in MODULES for col, d in m.COLUMNS.items()}
REFERENCE_COLUMNS = tuple(reference_wer.COLUMNS)  # need human references; never label-free inputs
RECOMMENDED = "combined"  # the score to filter on first: the best label-free ranking in docs/study.md
