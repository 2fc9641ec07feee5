"""Teacher self-agreement: how far the teacher's own sampled re-decodes of a clip stray from its greedy label.

No reference and no second model: where the teacher hears the clip clearly, transcripts sampled from its
distribution repeat the label; where it guesses (noise, babble, a loop it fell into), they scatter. Each
alternative is compared with the label as the reference, after Whisper normalisation and with the
conventions of `wer`/`cer`: an empty label agrees with an empty alternative and disagrees fully with any
other. `agreement_cer` is the one to read for unspaced scripts (Chinese, Japanese, Thai), where a
"word" is a whole sentence.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from engine.scores import reference_wer
from engine.text import normalize

COLUMNS = {"agreement_wer": False, "agreement_cer": False, "agreement_share": True}
ORDER = 35  # place in the registry: beside the teacher's own scores
FAMILIES = {"agreement_wer": "agreement", "agreement_cer": "agreement", "agreement_share": "agreement"}

Alternatives = Sequence[Sequence[str] | None]  # per clip: the teacher's other transcripts (None: none made)


def agreement_wer(labels: Sequence[str], alternatives: Alternatives, langs: Sequence[str | None]) -> np.ndarray:
    """Mean word error rate of each clip's alternatives against its label; 0 up (can exceed 1 when they
    add words), lower = better (the teacher repeats itself).

    NaN where a clip has no alternatives (None or empty).
    Returns: (N,) float32.
    """
    return _mean_per_clip(labels, alternatives, langs, reference_wer.wer)


def agreement_cer(labels: Sequence[str], alternatives: Alternatives, langs: Sequence[str | None]) -> np.ndarray:
    """Mean character error rate of each clip's alternatives against its label; same conventions as
    `agreement_wer`, lower = better."""
    return _mean_per_clip(labels, alternatives, langs, reference_wer.cer)


def agreement_share(labels: Sequence[str], alternatives: Alternatives, langs: Sequence[str | None]) -> np.ndarray:
    """Share of each clip's alternatives identical to its label after normalisation; 0 to 1, higher =
    better. Two empty texts are identical.

    NaN where a clip has no alternatives (None or empty).
    Returns: (N,) float32.
    """
    _check(labels, alternatives, langs)
    return np.array([np.mean([normalize(a, lang) == normalize(label, lang) for a in alts]) if alts else np.nan
                     for label, alts, lang in zip(labels, alternatives, langs)], dtype=np.float32)


def _check(labels: Sequence[str], alternatives: Alternatives, langs: Sequence[str | None]) -> None:
    if not (len(labels) == len(alternatives) == len(langs)):
        raise ValueError("labels, alternatives and langs must have one entry per clip")


def _mean_per_clip(labels: Sequence[str], alternatives: Alternatives, langs: Sequence[str | None],
                   measure: Callable[..., np.ndarray]) -> np.ndarray:
    """`measure(references, hypotheses, langs)` over every (label, alternative) pair, averaged per clip."""
    _check(labels, alternatives, langs)
    clip = np.array([i for i, alts in enumerate(alternatives) if alts for _ in alts], dtype=np.intp)
    rates = measure([labels[i] for i in clip], [a for alts in alternatives if alts for a in alts],
                    [langs[i] for i in clip])
    totals = np.bincount(clip, weights=rates, minlength=len(labels))
    counts = np.bincount(clip, minlength=len(labels))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (totals / counts).astype(np.float32)
