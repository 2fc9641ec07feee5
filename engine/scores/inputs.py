"""What the scoring pass hands the scores computed in it: the teacher's outputs or the audio, for a batch of clips.

A score module declares which it reads (`NEEDS = TEACHER` or `AUDIO`) and a `compute(inputs)` that returns one
(N,) array per column; the pipeline calls every such module in the registry, so a new score is one file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEACHER = "teacher"  # computed from the teacher pass, for the clips it labelled
AUDIO = "audio"  # computed from the waveform, for every readable clip


@dataclass(frozen=True)
class TeacherPass:
    """The teacher's outputs for the clips it labelled, with what the input said about them."""

    outputs: list  # one engine.teacher.options.TeacherOutput per clip (text, tokens, token_logprobs, ...)
    stated_langs: list[str | None]  # the language the input gave each clip (None when it gave none)
    durations: np.ndarray  # (N,) seconds

    def values(self, field: str) -> list:
        """One output field per clip, e.g. `values("token_logprobs")`."""
        return [getattr(out, field) for out in self.outputs]


@dataclass(frozen=True)
class AudioPass:
    """The readable clips' waveforms and their voice activity."""

    samples: list[np.ndarray]  # 16 kHz mono float32
    speech_probs: list[np.ndarray]  # Silero VAD speech probability per 32 ms frame
