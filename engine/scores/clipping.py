"""Clipping: the share of samples at full scale, where the waveform was cut off."""
from __future__ import annotations

import numpy as np

from engine.scores.inputs import AUDIO, AudioPass

COLUMNS = {"clipping": False}
ORDER = 90  # place in the registry: the app lists scores in this order
NEEDS = AUDIO
FULL_SCALE = 0.99


def clipping(waveforms: list[np.ndarray]) -> np.ndarray:
    """Share of samples with |x| ≥ 0.99; one score per clip, 0 to 1, lower = cleaner.

    Clean speech sits near 0; above about 0.01 the clip was amplified into distortion.
    Returns: (N,) float32.
    """
    return np.array([np.mean(np.abs(w) >= FULL_SCALE) if len(w) else np.nan for w in waveforms], dtype=np.float32)


def compute(a: AudioPass) -> dict[str, np.ndarray]:
    return {"clipping": clipping(a.samples)}
