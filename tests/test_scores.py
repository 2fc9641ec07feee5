import numpy as np
import pytest

from engine import scores
from engine.scores.clipping import clipping
from engine.scores.confidence import confidence
from engine.scores.loudness import rms_db
from engine.scores.reference_wer import cer, wer
from engine.teacher.base import token_statistics
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
    assert token_statistics(logits[:2], [0, 1])[2] is None  # cut at the limit: no end-of-text row


def test_wer_uses_whisper_normalisation():
    refs = ["Mr. Smith paid 1,000 dollars.", "hello world", None, ""]
    hyps = ["mister smith paid 1000 dollars", "hello", "anything", ""]
    out = wer(refs, hyps, ["en"] * 4)
    assert out[0] == 0.0 and out[1] == pytest.approx(0.5) and np.isnan(out[2]) and out[3] == 0.0
    assert wer(["a b"], [""], ["en"])[0] == 1.0
    assert cer(["abcd"], ["abce"], ["en"])[0] == pytest.approx(0.25)


def test_english_wer_forgives_british_spelling_but_not_other_languages():
    assert wer(["The colour of the harbour"], ["the color of the harbor"], ["en"])[0] == 0.0
    assert wer(["The colour of the harbour"], ["the color of the harbor"], ["de"])[0] == pytest.approx(0.4)


def test_clipping_and_loudness_move_the_right_way():
    clean = tone(1.0, amplitude=0.3)
    clipped = np.clip(clean * 20, -1, 1)
    assert clipping([clean])[0] == 0.0 and clipping([clipped])[0] > 0.5
    quiet, loud = rms_db([clean * 0.01, clean])
    assert quiet < loud and loud == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.1)
    assert rms_db([np.zeros(100, np.float32)])[0] == -120.0


def test_min_token_prob_sees_the_one_bad_token():
    from engine.scores.confidence import min_token_prob

    out = min_token_prob([np.log([0.99, 0.99, 0.1])], np.array([0.0]), np.array([False]))
    assert out[0] == pytest.approx(0.1)


def test_entropy_of_empty_label_is_speech_uncertainty():
    from engine.scores.entropy import entropy

    out = entropy([np.array([0.5, 1.5]), np.zeros(0), np.zeros(0)], np.array([0.0, 0.5, 0.999]),
                  np.array([False, True, True]))
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(np.log(2)) and out[2] < 0.01


def test_whisper_rules():
    from engine.scores.whisper_rules import avg_logprob, compression_ratio

    assert avg_logprob([np.array([-1.0, -2.0])], np.array([0.0]))[0] == pytest.approx(-1.0)
    loop = "one point zero " * 30
    normal = "It was the best of times, it was the worst of times, it was the age of wisdom."
    ratios = compression_ratio([loop, normal, ""])
    assert ratios[0] > 2.4 > ratios[1] and np.isnan(ratios[2])


def test_language_mismatch():
    from engine.scores.language import lang_mismatch

    out = lang_mismatch(["en", "de", None, "EN-us"], ["en", "en", "fr", "en"])
    assert out[0] == 0 and out[1] == 1 and np.isnan(out[2]) and out[3] == 0


def test_speaking_rate_and_repetition():
    from engine.scores.repetition import repetition
    from engine.scores.speaking_rate import chars_per_sec, words_per_sec

    assert words_per_sec(["a b c d", ""], np.array([2.0, 1.0])) == pytest.approx([2.0, 0.0])
    assert chars_per_sec(["ab cd"], np.array([2.0]))[0] == pytest.approx(2.0)
    reps = repetition(["the cat the cat the cat", "a quick brown fox jumps", "hi"], ["en"] * 3)
    assert reps[0] == pytest.approx(0.5) and reps[1] == 0 and np.isnan(reps[2])


def test_speech_ratio_separates_speech_from_silence():
    from engine.extras.vad import frame_speech_probs
    from engine.scores.speech_ratio import speech_ratio

    silence = frame_speech_probs(np.zeros(16000, np.float32))
    assert speech_ratio([silence, np.array([0.9, 0.9, 0.1, 0.2])]) == pytest.approx([0.0, 0.5])
