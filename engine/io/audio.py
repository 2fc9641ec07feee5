"""Audio I/O: read any clip as 16 kHz mono float32, or say in one sentence why it cannot be used."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
MAX_SECONDS = 30.0  # Whisper's window; longer clips cannot be one training example
MIN_SECONDS = 0.1
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm")


class AudioError(ValueError):
    """A clip that cannot be used; the message is the reason shown to users."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # (n,) float32 in [-1, 1] at SAMPLE_RATE
    source_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE



def total_seconds(waveforms: list[np.ndarray]) -> float:
    """Total duration in seconds of 16 kHz waveforms."""
    return float(sum(len(w) for w in waveforms) / SAMPLE_RATE)

def _read(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return data, rate
    except (sf.LibsndfileError, RuntimeError, TypeError) as first_error:
        try:  # formats libsndfile does not read (m4a, aac, webm): PyAV via faster-whisper
            from faster_whisper.audio import decode_audio

            return decode_audio(str(path), sampling_rate=SAMPLE_RATE)[:, None], SAMPLE_RATE
        except Exception:
            detail = getattr(first_error, "error_string", None) or str(first_error)
            raise AudioError(f"cannot decode audio ({detail})") from None


def load_audio(path: str | Path) -> Audio:
    """Read `path` as 16 kHz mono float32.

    Raises AudioError for a missing, empty or undecodable file and for NaN/inf samples.
    Stereo is averaged to mono; any sample rate is resampled (soxr, high quality).
    """
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"a folder, not an audio file: {path}")
    if not path.is_file():
        raise AudioError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise AudioError("file is empty (0 bytes)")
    data, rate = _read(path)
    if data.size == 0:
        raise AudioError("audio has no samples")
    if not np.isfinite(data).all():
        raise AudioError("audio contains NaN or infinite samples")
    mono = data.mean(axis=1, dtype=np.float32)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    return Audio(np.clip(mono, -1.0, 1.0), source_rate=rate, channels=data.shape[1])


def usability_problem(audio: Audio) -> str | None:
    """Why a readable clip should not be trusted as a training example, or None."""
    if audio.duration > MAX_SECONDS:
        return f"longer than {MAX_SECONDS:.0f} s ({audio.duration:.1f} s): Whisper sees only 30 s"
    if audio.duration < MIN_SECONDS:
        return f"shorter than {MIN_SECONDS} s ({audio.duration:.3f} s)"
    if np.max(np.abs(audio.samples)) == 0.0:
        return "digital silence (all samples are zero)"
    return None


def write_audio(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float samples to a file whose format follows the extension (wav, flac, ogg, mp3)."""
    sf.write(str(path), samples, rate)
