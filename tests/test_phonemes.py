"""Phoneme scores with hama: the CTC forward algorithm, phoneme error rate, label preparation,
the real model on demo clips, and `score --add phoneme,align` end to end."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from engine.demo import DEMO_MANIFEST
from engine.extras.phonemes import UNIT_IDS, UNITS, heard_units, label_units, load_model, spoken_words
from engine.io.audio import load_audio
from engine.io.workspace import Workspace
from engine.scores.align import BLANK, FLOOR, align_score, ctc_log_likelihood
from engine.scores.phoneme_proxy import phoneme_error_rate
from whisper_curator.cli import main

# demo clip → role: clean speech and its noisy twins (same recording), a German sentence, silence
CLIPS = ("real_0001", "noise_snr5_0001", "real_0004", "noise_snr0_0002", "other_language_0001", "silence_0001")


def _brute_force(log_probs: np.ndarray, target: list[int]) -> float:
    """log P(target) summing every frame path that collapses to it (merge repeats, drop blanks)."""
    total = -np.inf
    for path in itertools.product(range(log_probs.shape[1]), repeat=len(log_probs)):
        collapsed = [s for i, s in enumerate(path) if s != BLANK and (i == 0 or path[i - 1] != s)]
        if collapsed == target:
            total = np.logaddexp(total, sum(log_probs[t, s] for t, s in enumerate(path)))
    return total


@pytest.mark.parametrize("frames", [1, 2, 4])
def test_ctc_forward_matches_brute_force(frames):
    rng = np.random.default_rng(frames)
    log_probs = np.log(rng.dirichlet(np.ones(3), size=frames))
    for target in ([], [1], [2, 1], [1, 1], [1, 2, 1], [2, 2, 2]):
        expected = _brute_force(log_probs, target)
        got = ctc_log_likelihood(log_probs, target)
        assert got == expected if np.isinf(expected) else np.isclose(got, expected), (frames, target)


def test_align_score_range_and_conventions():
    sure = np.log(np.full((6, 3), 1e-6))
    for t, s in enumerate([1, 1, BLANK, 2, 2, BLANK]):  # the model hears "1 2", confidently
        sure[t, s] = np.log(1 - 2e-6)
    silent = np.log(np.tile([0.98, 0.01, 0.01], (6, 1)))
    out = align_score([sure, sure, sure, silent, sure, sure, sure[:0]], [[1, 2], [2, 1], [1] * 5, [], [], None, [1]])
    assert abs(out[0]) < 1e-3  # what the model hears: 0
    assert out[1] < -5  # the wrong order
    assert out[2] == FLOOR  # five repeats cannot fit six frames (they need blanks between)
    assert abs(out[3]) < 0.1 and out[4] < -5  # empty label: silence agrees, heard speech does not
    assert np.isnan(out[5]) and np.isnan(out[6])  # unreadable label, no frames


def test_phoneme_error_rate_cases():
    labels = [["a", "b", "c", "d"], ["a", "b"], [], [], ["a"], None, ["a"]]
    heard = [["a", "b", "x", "d"], ["a", "b"], [], ["a"], [], ["a"], ["a", "b", "c"]]
    out = phoneme_error_rate(labels, heard)
    np.testing.assert_allclose(out[:5], [0.25, 0.0, 0.0, 1.0, 1.0])
    assert np.isnan(out[5])
    assert out[6] == pytest.approx(2 / 3)  # edits per phoneme heard
    with pytest.raises(ValueError):
        phoneme_error_rate([["a"]], [])


def test_labels_are_spoken_before_g2p():
    assert spoken_words("Go forward 10 meters.") == ["go", "forward", "ten", "meters"]
    assert spoken_words("The 3rd of 1,200 (3.5%) in 1990 & 2004!") == [
        "the", "third", "of", "one", "thousand", "two", "hundred", "three", "point", "five", "percent",
        "in", "nineteen", "ninety", "and", "two", "thousand", "four"]
    assert spoken_words("He's ill-disposed: 'quite' so") == ["he's", "ill", "disposed", "quite", "so"]
    assert spoken_words("7F clubs") == ["seven", "f", "clubs"]


@pytest.fixture(scope="module")
def demo() -> dict[str, tuple[np.ndarray, str]]:
    """Each demo clip of CLIPS: (16 kHz samples, reference text)."""
    rows = {Path(r["audio_filepath"]).stem: r for r in map(json.loads, DEMO_MANIFEST.read_text().splitlines())}
    return {name: (load_audio(DEMO_MANIFEST.parent / rows[name]["audio_filepath"]).samples, rows[name].get("text", ""))
            for name in CLIPS}


def test_label_units_keep_only_what_the_recogniser_knows(demo):
    units = label_units("Go forward 10 meters.", "en")
    assert units == label_units("go forward ten meters", "en") and set(units) <= set(UNITS)
    assert label_units(demo["other_language_0001"][1], "de") is None  # hama hears German as English
    assert label_units("", "de") == [] and label_units("  ", "en") == []


def _scores(samples: np.ndarray, label: str) -> tuple[float, float]:
    """(align_score, proxy_per) of an English label on a clip."""
    log_probs = load_model().log_posteriors(samples)
    units = label_units(label, "en")
    return (align_score([log_probs], [[UNIT_IDS[u] for u in units]])[0],
            phoneme_error_rate([units], [heard_units(log_probs)])[0])


def test_right_label_beats_a_wrong_one_on_the_same_clip(demo):
    samples, text = demo["real_0004"]
    right, wrong = _scores(samples, text), _scores(samples, demo["real_0001"][1])
    assert right[0] > -0.5 > -3 > wrong[0]
    assert right[1] < 0.2 < 0.8 < wrong[1]
    swapped = _scores(samples, text.replace("amiable woman", "miserable man"))  # two words wrong
    assert wrong[0] < swapped[0] < right[0] and right[1] < swapped[1] < wrong[1]


@pytest.mark.parametrize("clean, noisy", [("real_0001", "noise_snr5_0001"), ("real_0004", "noise_snr0_0002")])
def test_clean_clip_scores_better_than_its_noisy_twin(demo, clean, noisy):
    text = demo[clean][1]  # the same words on both
    clean_scores, noisy_scores = _scores(demo[clean][0], text), _scores(demo[noisy][0], text)
    assert clean_scores[0] > noisy_scores[0] + 0.2 and clean_scores[1] < noisy_scores[1]


def test_score_command_adds_phoneme_and_align(demo, tmp_path):
    rows = {Path(r["audio_filepath"]).stem: r for r in map(json.loads, DEMO_MANIFEST.read_text().splitlines())}
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(
        json.dumps({**rows[n], "audio_filepath": str(DEMO_MANIFEST.parent / rows[n]["audio_filepath"])}) + "\n"
        for n in ("real_0001", "noise_snr5_0001", "other_language_0001", "silence_0001")))
    assert main(["score", str(manifest), "--workspace", str(tmp_path / "ws"), "--add", "phoneme,align"]) == 0
    table = Workspace(tmp_path / "ws").read_scores()
    table.index = [i.rsplit("-", 1)[0] for i in table["id"]]
    assert table["align_score"].dtype == np.float32 and table["proxy_per"].dtype == np.float32
    clean, noisy, german, silence = (table.loc[n] for n in ("real_0001", "noise_snr5_0001", "other_language_0001",
                                                            "silence_0001"))
    assert clean["align_score"] > -0.5 and clean["proxy_per"] < 0.1  # the teacher got this one right
    assert noisy["wer"] > 0.3 and noisy["align_score"] < clean["align_score"] - 0.5  # and this one wrong
    assert np.isnan(german["align_score"]) and np.isnan(german["proxy_per"])
    assert silence["pseudo_label"] and silence["align_score"] < -2 and silence["proxy_per"] == 1.0  # hallucination
