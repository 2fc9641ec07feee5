"""The study corpus builder: a tiny corpus end to end (fields, audio, disjoint splits, severities
that match the audio, determinism) and the physical effect of each corruption."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.io.audio import SAMPLE_RATE
from engine.teacher.models import cache_dir
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import corpus_audio as ca  # noqa: E402
from benchmarks.study_corpus import CORRUPTIONS, DEFAULT_SEED, MAX_SECONDS, build, english_split  # noqa: E402

SIZE = 40
FIELDS = ("id", "audio_filepath", "duration", "text", "lang", "source", "kind", "severity", "voice",
          "text_id", "base_id")


def manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read(folder: Path, line: dict) -> np.ndarray:
    audio, rate = sf.read(folder / line["audio_filepath"], dtype="float64")
    assert rate == SAMPLE_RATE and audio.ndim == 1
    return audio


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A tiny corpus built by the command line."""
    out = tmp_path_factory.mktemp("corpus")
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study_corpus.py"), "--out", str(out),
                          "--size", str(SIZE)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "hours" in run.stdout
    return out


def test_rows_and_audio(corpus):
    for split in ("pool", "test"):
        lines = manifest(corpus / split)
        assert len({line["id"] for line in lines}) == len(lines)
        for line in lines:
            assert all(key in line for key in FIELDS), line
            audio = read(corpus / split, line)
            assert abs(len(audio) / SAMPLE_RATE - line["duration"]) < 1e-3
            assert 0 < line["duration"] <= MAX_SECONDS
            assert (line["text"] == "") == (line["lang"] is None) == (line["voice"] is None)
    counts = json.loads((corpus / "corpus.json").read_text())["counts"]
    assert sum(counts["pool"].values()) == len(manifest(corpus / "pool"))


def test_pool_has_every_corruption_cell_and_test_is_clean(corpus):
    pool, test = manifest(corpus / "pool"), manifest(corpus / "test")
    cells = Counter((line["kind"], line["severity"]) for line in pool)
    for kind, severities in CORRUPTIONS:
        if kind == "truncated":
            kept = [line["severity"] for line in pool if line["kind"] == kind]
            assert len(kept) >= len(severities) and all(0.25 < s < 0.65 for s in kept)
        else:
            assert all(cells[kind, s] >= 1 for s in severities), kind
    assert {"tones", "noise_only", "silence", "other_language", "clean"} <= {line["kind"] for line in pool}
    assert {"espeak-ng", "piper:en_US-joe-medium"} <= {line["source"] for line in pool if line["kind"] == "clean"}
    assert {line["kind"] for line in test} == {"clean", "other_language"}
    assert len({line["lang"] for line in test}) > 5 and any(line["source"].startswith("pocketsphinx") for line in test)


def test_splits_share_no_text_and_no_voice(corpus):
    pool, test = manifest(corpus / "pool"), manifest(corpus / "test")
    for field in ("text", "text_id", "voice"):
        assert not {line[field] for line in pool if line[field]} & {line[field] for line in test}, field
    accents = {line["voice"].split(":")[1].split("+")[0] for line in test if line["source"] == "espeak-ng"}
    assert accents and not accents & {line["voice"].split(":")[1].split("+")[0] for line in pool
                                      if line["source"] == "espeak-ng" and line["lang"] == "en"}


def test_corruptions_point_to_their_clean_clip(corpus):
    pool = manifest(corpus / "pool")
    by_id = {line["id"]: line for line in pool}
    corrupted = [line for line in pool if line["base_id"]]
    assert len(corrupted) >= sum(len(s) for _, s in CORRUPTIONS)
    for line in corrupted:
        base = by_id[line["base_id"]]
        assert base["kind"] == "clean" and (base["text"], base["text_id"]) == (line["text"], line["text_id"])


def test_noise_severity_is_the_measured_snr(corpus):
    pool = manifest(corpus / "pool")
    by_id = {line["id"]: line for line in pool}
    noisy = [line for line in pool if line["kind"] in ("noise_white", "noise_pink")]
    assert {line["severity"] for line in noisy} == {20, 10, 5, 0}
    for line in noisy:
        speech, mix = read(corpus / "pool", by_id[line["base_id"]]), read(corpus / "pool", line)
        scale = mix @ speech / (speech @ speech)  # a peak-limited mix is scaled as a whole
        added = mix / scale - speech
        assert 10 * np.log10(ca.power(speech) / ca.power(added)) == pytest.approx(line["severity"], abs=0.5)


def test_same_seed_same_files_other_seed_other_split(corpus, tmp_path):
    build(tmp_path / "again", SIZE, DEFAULT_SEED, cache_dir() / "downloads")
    assert file_hashes(tmp_path / "again") == file_hashes(corpus)
    assert english_split(DEFAULT_SEED, SIZE) != english_split(DEFAULT_SEED + 1, SIZE)


def speech_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Noise bursts of 0.3 s ("words") separated by 0.1 s of silence."""
    rng = np.random.default_rng(seed)
    t = ca.timeline(seconds)
    return (0.1 * rng.standard_normal(len(t)) * ((t % 0.4) < 0.3)).astype(np.float32)


def in_word(audio: np.ndarray, sample: int) -> bool:
    return ((sample / SAMPLE_RATE) % 0.4) < 0.3


def band_power(audio: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].mean())


def test_mixing_hits_the_requested_ratio():
    speech, rng = speech_like(), np.random.default_rng(1)
    hiss = ca.noise("white", len(speech), rng)
    for snr in (20, 5, 0):
        added = ca.mixed_at_snr(speech, hiss, snr) - speech
        assert 10 * np.log10(ca.power(speech) / ca.power(added)) == pytest.approx(snr, abs=0.01)
    other = speech_like(2.0, seed=2)
    mix = ca.overlapped(speech, other, 5, 8000, 10 * SAMPLE_RATE)
    added = mix[8000:8000 + len(other)] - speech[8000:8000 + len(other)]
    assert len(mix) == len(speech) and 10 * np.log10(ca.power(speech) / ca.power(added)) == pytest.approx(5, abs=0.01)
    assert len(ca.overlapped(speech, other, 5, len(speech), 4 * SAMPLE_RATE)) == 4 * SAMPLE_RATE


def test_noise_colours_have_their_slopes():
    rng = np.random.default_rng(0)
    for colour, db_per_octave in (("white", 0), ("pink", -3), ("brown", -6)):
        hiss = ca.noise(colour, 10 * SAMPLE_RATE, rng)
        slope = 10 * np.log10(band_power(hiss, 1600, 2400) / band_power(hiss, 800, 1200))
        assert slope == pytest.approx(db_per_octave, abs=0.7), colour


def test_reverb_fills_the_pauses_more_the_longer_it_rings():
    speech, gaps = speech_like(), []
    for rt60 in (0.3, 0.6, 1.2):
        wet = ca.reverberated(speech, rt60, np.random.default_rng(0))
        assert len(wet) == len(speech) + round(rt60 * SAMPLE_RATE) - 1
        assert ca.power(wet) == pytest.approx(ca.power(speech), rel=1e-3)
        pauses = ~((ca.timeline(len(speech) / SAMPLE_RATE) % 0.4) < 0.3)
        gaps.append(ca.power(wet[:len(speech)][pauses]))
    assert gaps[0] < gaps[1] < gaps[2]


def test_telephone_band_keeps_only_300_to_3400_hz():
    t = ca.timeline(2.0)
    for freq, least_loss, most_loss in ((1000, -1, 1), (120, 10, 99), (5000, 30, np.inf)):
        tone = 0.3 * np.sin(2 * np.pi * freq * t)
        out = ca.telephone_band(np.concatenate([0.3 * np.sin(2 * np.pi * 1000 * t), tone]))
        loss = 10 * np.log10((ca.power(out[len(t) + 4000:-4000]) + 1e-20) / ca.power(out[4000:len(t) - 4000]))
        assert least_loss < -loss < most_loss, freq


def test_speed_change_scales_time_and_pitch():
    tone = np.sin(2 * np.pi * 1000 * ca.timeline(2.0)).astype(np.float32)
    for factor in (0.8, 1.25):
        fast = ca.speed_changed(tone, factor)
        assert len(fast) == pytest.approx(len(tone) / factor, abs=2)
        peak = np.fft.rfftfreq(len(fast), 1 / SAMPLE_RATE)[np.argmax(np.abs(np.fft.rfft(fast)))]
        assert peak == pytest.approx(1000 * factor, abs=2)


def test_overdrive_clips_more_with_more_gain():
    speech = speech_like()
    clipped = [np.mean(np.abs(ca.overdriven(speech, gain)) >= 1.0) for gain in (6, 12, 24)]
    assert 0 < clipped[0] < clipped[1] < clipped[2] < 1


def test_cut_lands_inside_a_word_and_silence_in_a_pause():
    speech = speech_like()
    for fraction in (0.3, 0.37, 0.45, 0.6):
        cut = ca.mid_word_cut(speech, fraction)
        assert in_word(speech, cut) and abs(cut / len(speech) - fraction) < 0.1
    at = ca.quietest_point(speech, 0.3, 0.7)
    assert not in_word(speech, at) and 0.3 < at / len(speech) < 0.7
    longer = ca.with_silence(speech, 1.5, at)
    assert len(longer) == len(speech) + 1.5 * SAMPLE_RATE and not np.any(longer[at:at + 24000])
