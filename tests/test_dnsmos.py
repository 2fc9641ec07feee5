"""DNSMOS: guards around speechmos (empty, out-of-range, long clips), offline loading, clean beats noisy."""
from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from engine.demo import DEMO_MANIFEST
from engine.extras import Batch, ExtraOptions
from engine.extras.dnsmos import WINDOW, clip_windows, dnsmos_scorer, load_dnsmos, window_mos
from engine.io.audio import SAMPLE_RATE, load_audio
from engine.scores.dnsmos import dnsmos

CLEAN_KINDS = ("real", "synthetic")


@pytest.fixture(scope="module")
def model():
    """Loaded and run once with every socket connection refused: speechmos imports requests, needs no network."""
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        loaded = load_dnsmos(threads=1)
        assert window_mos(loaded, np.zeros(SAMPLE_RATE, np.float32) + 0.01).shape == (1, 3)
    return loaded


def test_windows_cover_the_clip_at_one_model_input_each():
    rng = np.random.default_rng(0)
    assert clip_windows(np.zeros(0, np.float32)) == []  # speechmos would loop forever on this
    assert clip_windows(np.array([0.1, np.nan], np.float32)) == []
    short = clip_windows(rng.uniform(-3, 3, SAMPLE_RATE).astype(np.float32))  # out of range: clipped, not raised
    assert len(short) == 1 and len(short[0]) == WINDOW and np.abs(short[0]).max() <= 1.0
    long = rng.uniform(-0.5, 0.5, 2 * WINDOW + 100).astype(np.float32)
    pieces = clip_windows(long)
    assert len(pieces) == 3 and all(len(p) == WINDOW for p in pieces)
    assert np.array_equal(pieces[0], long[:WINDOW]) and np.array_equal(pieces[-1], long[-WINDOW:])


def test_unratable_clips_are_nan_not_errors(model):
    scorer = dnsmos_scorer(ExtraOptions(threads=1))
    samples = [np.zeros(0, np.float32), np.full(8000, 1.5, np.float32), np.full(100, np.nan, np.float32)]
    out = scorer(Batch(["a", "b", "c"], samples, ["", "x", "y"], ["en"] * 3))
    assert set(out) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"}
    for values in out.values():
        assert values.dtype == np.float32
        assert np.isnan(values[0]) and np.isfinite(values[1]) and np.isnan(values[2])


def test_mean_over_windows():
    out = dnsmos([np.array([[1, 2, 3], [3, 4, 5]], np.float32), np.zeros((0, 3), np.float32)])
    assert out["dnsmos_sig"][0] == 2 and out["dnsmos_bak"][0] == 3 and out["dnsmos_ovrl"][0] == 4
    assert np.isnan(out["dnsmos_ovrl"][1])


def noise_twins() -> list[tuple[str, str]]:
    """(clean, noisy) audio paths of demo clips cut from the same source sentence."""
    rows = [json.loads(line) for line in DEMO_MANIFEST.read_text().splitlines() if line.strip()]
    clean = {(r["source"], r.get("text")): r["audio_filepath"] for r in rows if r["kind"] in CLEAN_KINDS}
    return [(clean[(r["source"], r.get("text"))], r["audio_filepath"]) for r in rows
            if r["kind"].startswith("noise_snr") and (r["source"], r.get("text")) in clean]


def test_clean_clip_beats_its_noisy_twin(model):
    pairs = noise_twins()
    assert len(pairs) >= 2
    for clean, noisy in pairs:
        a, b = (window_mos(model, load_audio(DEMO_MANIFEST.parent / p).samples).mean(axis=0) for p in (clean, noisy))
        assert a[1] > b[1] + 0.5 and a[2] > b[2] + 0.3, (clean, noisy, a, b)  # background, overall
