"""LM likelihood: how plausible the pseudo-label is as text, read by a causal language model."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = {"lm_nll": False}
ORDER = 140  # place in the registry: the app lists scores in this order
FAMILIES = {"lm_nll": "lm"}  # combined's family of each column


def lm_nll(token_nll: Sequence[np.ndarray]) -> np.ndarray:
    """Mean negative log-likelihood per token (nats) of each label under a causal LM, the first token
    predicted from the start token; 0 to ~15, lower = more plausible text. Catches word salad and
    garbled decoding, not fluent hallucinations: a loop of a common phrase gets a *low* NLL.
    Parameters: per label, the (tokens,) NLL of each of its tokens; no tokens = empty label.
    Returns: (N,) float32, NaN for empty labels.
    """
    return np.array([t.mean() if len(t) else np.nan for t in token_nll], dtype=np.float32)
