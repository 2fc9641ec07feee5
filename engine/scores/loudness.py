"""Loudness: root-mean-square level of the clip in dB relative to full scale."""
from __future__ import annotations

import numpy as np

from engine.scores.inputs import AUDIO, AudioPass

COLUMNS = {"rms_db": None}
ORDER = 100  # place in the registry: the app lists scores in this order
NEEDS = AUDIO
FLOOR_DB = -120.0


def rms_db(waveforms: list[np.ndarray]) -> np.ndarray:
    """RMS level in dBFS; one score per clip, -120 (digital silence) to 0; a band, not a direction.

    Read speech is typically -35 to -15 dBFS; below about -60 a clip is near-silent.
    Returns: (N,) float32.
    """
    rms = np.array([np.sqrt(np.mean(np.square(w, dtype=np.float64))) if len(w) else 0.0 for w in waveforms])
    return np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), FLOOR_DB).astype(np.float32)


def compute(a: AudioPass) -> dict[str, np.ndarray]:
    return {"rms_db": rms_db(a.samples)}
