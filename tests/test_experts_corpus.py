"""The experts benchmark's corpus: training and test share no sentence and no voice, in every language."""
from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import experts_corpus as ec  # noqa: E402


def test_grammar_sentences_are_distinct_and_not_test_sentences():
    for lang in ec.LANGUAGES:
        sentences = ec.grammar_sentences(lang)
        assert len(set(sentences)) == len(sentences) == 8 * 8 * 6
        assert not {text for _, text in ec.test_sentences(lang)} & set(sentences)
    assert set(ec.TARGETS) < set(ec.LANGUAGES) and "en" in ec.LANGUAGES


def test_training_and_test_clips_use_other_voices():
    train = ec.train_items("de", 4, seed=1)
    test = ec.test_items("de", 2, seed=1)
    assert {c.lang for c in train + test} == {"de"} and len(test) == 2 * len(ec.test_sentences("de"))
    assert not {c.voice for c in train} & {c.voice for c in test}
    assert len({c.text for c in train}) == 4  # drawn without repeats
    assert [c.voice for c in ec.train_items("de", 4, seed=1)] == [c.voice for c in train]  # seeded
