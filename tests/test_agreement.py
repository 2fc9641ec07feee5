"""Teacher self-agreement: the scores on hand-made transcripts, and `--add agreement` on demo clips."""
from __future__ import annotations

import numpy as np
import pytest

from engine.scores import FAMILIES, HIGHER_IS_BETTER
from engine.scores.agreement import agreement_cer, agreement_share, agreement_wer

CLEAN = "He was not an ill-disposed young man."
STABLE = [CLEAN, "He was not an ill disposed young man", "He was not an ill-disposed young man!",
          "He was not an ill-disposed young lad."]
LOOP = "I'm not going to let you go. " * 6  # a confident repetition loop on babble
SCATTERED = ["And then go to the gym.", "I'm not going to let you go.", "Re Kangaro.", "is that it has power?"]
SCORES = (agreement_wer, agreement_cer, agreement_share)


def _all(labels, alternatives, langs):
    return {f.__name__: f(labels, alternatives, langs) for f in SCORES}


def test_stable_label_agrees_and_a_loop_does_not():
    out = _all([CLEAN, LOOP], [STABLE, SCATTERED], ["en", "en"])
    assert out["agreement_wer"][0] == pytest.approx(1 / 8 / 4)  # one word of eight ("ill disposed"), in one sample
    assert out["agreement_share"][0] == 0.75  # punctuation, case and hyphens are normalised away
    assert out["agreement_wer"][1] > 0.8 and out["agreement_cer"][1] > 0.7
    assert out["agreement_share"][1] == 0.0
    assert out["agreement_cer"][0] < out["agreement_cer"][1]


def test_ranges_and_dtype():
    out = _all([CLEAN, LOOP, "short"], [STABLE, SCATTERED, ["a much longer transcript than the label"]],
               ["en"] * 3)
    for name, values in out.items():
        assert values.dtype == np.float32 and values.shape == (3,)
        assert (values >= 0).all() and (name != "agreement_share" or (values <= 1).all())
    assert out["agreement_wer"][2] > 1  # insertions: WER is not capped at 1


def test_empty_texts_and_missing_alternatives():
    labels = ["", "", "words here", "words here", "words here"]
    alternatives = [["", ""], ["", "speech"], [""], None, []]
    out = _all(labels, alternatives, ["en"] * 5)
    for name in ("agreement_wer", "agreement_cer"):
        np.testing.assert_array_equal(out[name][:3], [0.0, 0.5, 1.0])  # both empty agree; one side empty: all wrong
    np.testing.assert_array_equal(out["agreement_share"][:3], [1.0, 0.5, 0.0])
    for values in out.values():
        assert np.isnan(values[3:]).all()  # no alternatives: no score
    assert all(len(f([], [], [])) == 0 for f in SCORES)


def test_unspaced_script_reads_characters():
    label, sample = "今天天气很好", "今天天气不好"  # one character of six differs; the whole sentence is one word
    assert agreement_wer([label], [[sample]], ["zh"])[0] == 1.0
    assert agreement_cer([label], [[sample]], ["zh"])[0] == pytest.approx(1 / 6)


def test_inputs_must_line_up():
    with pytest.raises(ValueError, match="one entry per clip"):
        agreement_wer(["a", "b"], [["a"]], ["en", "en"])


def test_registry_knows_the_columns():
    assert HIGHER_IS_BETTER["agreement_wer"] is False and HIGHER_IS_BETTER["agreement_cer"] is False
    assert HIGHER_IS_BETTER["agreement_share"] is True
    assert FAMILIES["agreement"] == ("agreement_wer", "agreement_cer", "agreement_share")
