import numpy as np
import pytest

from engine import scores
from engine.scores.clipping import clipping
from engine.scores.confidence import confidence
from engine.scores.loudness import rms_db
from engine.scores.reference_wer import cer, wer
from engine.teacher import token_statistics
from tests.conftest import tone


def test_registry_declares_direction_for_every_column():
    assert scores.HIGHER_IS_BETTER["confidence"] is True
    assert scores.HIGHER_IS_BETTER["wer"] is False
    assert set(scores.REFERENCE_COLUMNS) == {"wer", "cer"}


def test_confidence_is_mean_token_probability():
    logprobs = [np.log([0.9, 0.5]), np.log([0.2])]
    out = confidence(logprobs, np.array([0.01, 0.02]), np.array([False, False]))
    assert out == pytest.approx([0.7, 0.2])


def test_empty_label_confidence_is_no_speech_probability():
    # an emptied label is usually right: confidence is how sure the teacher is there is no speech
    out = confidence([np.log([0.1, 0.1]), np.zeros(0)], np.array([0.95, 0.8]), np.array([True, False]))
    assert out == pytest.approx([0.95, 0.8])


def test_confidence_rejects_misaligned_inputs():
    with pytest.raises(ValueError):
        confidence([np.zeros(1)], np.array([0.1, 0.2]), np.array([False]))


def test_token_statistics_match_softmax_of_masked_logits():
    logits = np.array([[2.0, 0.0, -3.4e38], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    logprobs, entropies, eot = token_statistics(logits, [0, 1])
    assert logprobs[0] == pytest.approx(np.log(np.exp(2) / (np.exp(2) + 1)), rel=1e-5)
    assert entropies[1] == pytest.approx(np.log(3), rel=1e-5)  # uniform over 3
    assert eot == pytest.approx(np.log(np.exp(5) / (np.exp(5) + 2)), rel=1e-5)


def test_wer_uses_whisper_normalisation():
    refs = ["Mr. Smith paid 1,000 dollars.", "hello world", None, ""]
    hyps = ["mister smith paid 1000 dollars", "hello", "anything", ""]
    out = wer(refs, hyps, ["en"] * 4)
    assert out[0] == 0.0 and out[1] == pytest.approx(0.5) and np.isnan(out[2]) and out[3] == 0.0
    assert wer(["a b"], [""], ["en"])[0] == 1.0
    assert cer(["abcd"], ["abce"], ["en"])[0] == pytest.approx(0.25)


def test_clipping_and_loudness_move_the_right_way():
    clean = tone(1.0, amplitude=0.3)
    clipped = np.clip(clean * 20, -1, 1)
    assert clipping([clean])[0] == 0.0 and clipping([clipped])[0] > 0.5
    quiet, loud = rms_db([clean * 0.01, clean])
    assert quiet < loud and loud == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.1)
    assert rms_db([np.zeros(100, np.float32)])[0] == -120.0
