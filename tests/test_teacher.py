"""The CTranslate2 teacher pass on real clips: limits, languages, embeddings."""
from __future__ import annotations

import numpy as np
import pytest

from engine.io.audio import load_audio
from engine.teacher import load_teacher
from engine.teacher.base import Teacher
from engine.teacher.options import TeacherOptions
from tests.conftest import DEMO_MANIFEST

LONG_SENTENCE = DEMO_MANIFEST.parent / "clips" / "real_0018.flac"  # 15.7 s of Dickens, about 40 tokens


@pytest.fixture(scope="module")
def teacher() -> Teacher:
    return load_teacher()


def test_label_is_cut_at_the_token_limit_and_says_so(teacher):
    waveform = load_audio(LONG_SENTENCE).samples
    full = teacher.run([waveform], ["en"])[0]
    capped = load_teacher(TeacherOptions(max_label_tokens=8)).run([waveform], ["en"])[0]
    assert len(full.tokens) > 30 and not full.hit_limit
    assert capped.hit_limit and len(capped.tokens) <= 8 and capped.tokens == full.tokens[: len(capped.tokens)]
    assert np.isfinite(capped.avg_logprob)


def test_stated_language_is_decoded_and_detected_language_reported(teacher):
    waveform = load_audio(DEMO_MANIFEST.parent / "clips" / "real_0001.flac").samples
    given, detected = teacher.run([waveform, waveform], ["de", None])
    assert given.lang == "de" and given.detected_lang == "en"
    assert detected.lang == "en" and detected.lang_prob > 0.9
    assert given.text != detected.text  # decoding followed the stated language


def test_batching_does_not_change_labels(teacher):
    clips = [load_audio(DEMO_MANIFEST.parent / "clips" / f"real_000{i}.flac").samples for i in range(1, 5)]
    alone = [teacher.run([w], [None])[0] for w in clips]
    together = teacher.run(clips, [None] * 4)
    assert [o.text for o in alone] == [o.text for o in together]
    assert np.allclose([o.embedding for o in alone], [o.embedding for o in together], atol=0.05)


def test_torch_backend_on_the_converted_teacher_gives_the_same_labels():
    """PyTorch (float32, weights converted from CTranslate2) vs CTranslate2 (float32): same greedy tokens."""
    names = ["real_0001.flac", "real_0014.flac", "synthetic_0003.flac", "noise_snr0_0002.flac", "other_language_0001.flac"]
    clips = [load_audio(DEMO_MANIFEST.parent / "clips" / n).samples for n in names]
    ct2 = load_teacher(TeacherOptions(compute_type="float32")).run(clips, [None] * len(clips))
    torch_outputs = load_teacher(TeacherOptions(backend="torch")).run(clips, [None] * len(clips))
    for a, b in zip(ct2, torch_outputs):
        assert a.tokens == b.tokens and a.detected_lang == b.detected_lang
        assert b.no_speech_prob == pytest.approx(a.no_speech_prob, abs=0.01)
        assert b.lang_prob == pytest.approx(a.lang_prob, abs=0.01)
        assert b.avg_logprob == pytest.approx(a.avg_logprob, abs=0.01)
        # entropies differ by up to ~1 % where the two mask slightly different special tokens
        assert np.allclose(a.token_entropies, b.token_entropies, rtol=0.03, atol=0.01)
        assert np.allclose(a.embedding, b.embedding, atol=0.01)


def test_fitted_window_keeps_clean_labels(teacher):
    """window="fit" encodes ≥ 10 s instead of 30 s; on clean read speech the label stays right."""
    from engine.scores.reference_wer import wer

    fit = load_teacher(TeacherOptions(window="fit"))
    assert fit.window_frames(3 * 16000) == 1000 and fit.window_frames(12 * 16000) == 2000
    assert fit.window_frames(28 * 16000) == 3000 and teacher.window_frames(16000) == 3000
    waveform = load_audio(LONG_SENTENCE).samples
    reference = ("In short, the period was so far like the present period, that some of its noisiest authorities "
                 "insisted on its being received, for good or for evil, in the superlative degree of comparison only.")
    assert wer([reference], [fit.run([waveform], ["en"])[0].text], ["en"])[0] < 0.05
