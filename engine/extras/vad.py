"""Voice activity: Silero VAD v6 (the ONNX model bundled with faster-whisper), per 32 ms frame."""
from __future__ import annotations

import numpy as np

from engine.extras import ExtraOptions, Scorer

FRAME = 512  # samples per VAD frame at 16 kHz


def frame_speech_probs(waveform: np.ndarray) -> np.ndarray:
    """(ceil(n / 512),) speech probability of each 32 ms frame of a 16 kHz waveform."""
    from faster_whisper.vad import get_vad_model

    if len(waveform) == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.pad(waveform.astype(np.float32), (0, -len(waveform) % FRAME))
    return np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)[: len(padded) // FRAME]


def truncation_scorer(options: ExtraOptions) -> Scorer:
    """Edge speech activity from Silero VAD (no extra model)."""
    from engine.scores.truncation import truncation

    return lambda batch: {"truncation": truncation([frame_speech_probs(s) for s in batch.samples])}
