"""Dummy clips and workspaces made without any model (as lhotse's testing/dummies.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.io.audio import SAMPLE_RATE, write_audio
from engine.io.workspace import Clip, Workspace


def tone(seconds: float = 1.0, freq: float = 220.0, amplitude: float = 0.3, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dummy_clip(folder: Path, name: str = "clip.wav", seconds: float = 1.0, **fields) -> Clip:
    """A tone written to `folder/name`, as a Clip."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    write_audio(path, tone(seconds))
    return Clip(id=path.stem, audio_filepath=str(path), duration=seconds, **fields)


def dummy_workspace(root: Path, n: int = 6) -> Workspace:
    """A workspace with n tone clips and a plausible scores table, written without any model."""
    ws = Workspace(root)
    clips = [dummy_clip(root / "audio", f"c{i}.wav", 1.0 + i, text=f"reference {i}", lang="en") for i in range(n)]
    for c in clips:
        c.id = f"clip-{c.id}"
    ws.write_clips(clips)
    rng = np.random.default_rng(0)
    ws.write_scores(pd.DataFrame({
        "id": [c.id for c in clips],
        "status": ["ok"] * (n - 1) + ["flagged"],
        "reason": [""] * (n - 1) + ["near-silent (-70 dBFS)"],
        "pseudo_label": pd.array([f"label {i}" for i in range(n)], dtype="string"),
        "lang": ["en"] * n,
        "duration": np.array([c.duration for c in clips], dtype=np.float32),
        "confidence": rng.uniform(0.3, 1.0, n).astype(np.float32),
        "wer": rng.uniform(0, 0.5, n).astype(np.float32),
    }))
    return ws
