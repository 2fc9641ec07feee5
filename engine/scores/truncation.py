"""Truncation: speech running into the clip's first or last instant, a sign it was cut mid-word."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = {"truncation": False}
ORDER = 80  # place in the registry: the app lists scores in this order
FAMILIES = {"truncation": "edges"}  # combined's family of each column
EDGE_FRAMES = 3  # Silero VAD frames (32 ms each) read at each edge: about 100 ms


def truncation(frame_speech_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Mean VAD speech probability over the first or the last ~100 ms, whichever is higher;
    0 to 1, lower = better. A clip segmented with a little silence at both ends scores near 0;
    one cut mid-word scores near 1 at that edge. Teacher confidence does not see this: the label
    simply drops or guesses the cut word.
    Returns: (N,) float32 (NaN for clips shorter than two edges).
    """
    return np.array([max(p[:EDGE_FRAMES].mean(), p[-EDGE_FRAMES:].mean()) if len(p) >= 2 * EDGE_FRAMES else np.nan
                     for p in frame_speech_probs], dtype=np.float32)
