"""Speech ratio: how much of the clip a voice-activity detector hears as speech."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.scores.inputs import AUDIO, AudioPass

COLUMNS = {"speech_ratio": None}
ORDER = 70  # place in the registry: the app lists scores in this order
NEEDS = AUDIO
SPEECH_THRESHOLD = 0.5  # Silero VAD's default decision threshold


def speech_ratio(frame_speech_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Share of VAD frames (Silero, 32 ms) with speech probability ≥ 0.5; 0 to 1, a band:
    read speech is about 0.6–0.95, near 0 means non-speech, a label there is a hallucination.
    Returns: (N,) float32.
    """
    return np.array([np.mean(p >= SPEECH_THRESHOLD) if len(p) else np.nan for p in frame_speech_probs],
                    dtype=np.float32)


def compute(a: AudioPass) -> dict[str, np.ndarray]:
    return {"speech_ratio": speech_ratio(a.speech_probs)}
