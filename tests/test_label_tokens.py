"""label_tokens: the score added as one file (engine/scores/label_tokens.py) is found by the registry and
computed by the teacher pass."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from engine.scores import HIGHER_IS_BETTER, computed_from, label_tokens
from engine.scores.inputs import TEACHER, TeacherPass
from engine.teacher.options import MAX_LABEL_TOKENS


def test_the_registry_finds_it_as_a_band_computed_from_the_teacher():
    assert HIGHER_IS_BETTER["label_tokens"] is None
    assert label_tokens in computed_from(TEACHER)


def test_it_counts_each_labels_tokens():
    outputs = [SimpleNamespace(tokens=[1, 2, 3]), SimpleNamespace(tokens=[]), SimpleNamespace(tokens=[7] * 225)]
    values = label_tokens.compute(TeacherPass(outputs, [None] * 3, np.ones(3, np.float32)))["label_tokens"]
    np.testing.assert_array_equal(values, [3, 0, 225])
    assert values.dtype == np.float32


def test_the_demo_has_it_for_every_labelled_clip(demo_workspace):
    table = demo_workspace.read_scores()
    labelled = table["pseudo_label"].notna()
    values = table.loc[labelled, "label_tokens"]
    assert values.notna().all() and table.loc[~labelled, "label_tokens"].isna().all()
    assert ((values >= 0) & (values <= MAX_LABEL_TOKENS) & (values == values.round())).all()
    spoken = table[labelled & (table["pseudo_label"].str.len() > 0)]
    assert (spoken["label_tokens"] >= 1).all()
    assert (spoken["label_tokens"] <= spoken["pseudo_label"].str.len() + 1).all()  # a token is at least a character
    looped = table["reason"].str.contains("token limit")
    assert (table.loc[looped, "label_tokens"] == MAX_LABEL_TOKENS).all()
