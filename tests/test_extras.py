"""Extra score groups: parsing --add, sharded resumable runs, merging, truncation, combined."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from engine.extras import EXTRAS, Extra, ExtraOptions, extra_names
from engine.io.workspace import EMBEDDINGS
from engine.scores import HIGHER_IS_BETTER
from engine.scores.combined import combined_tuned, with_combined
from engine.scores.truncation import truncation
from engine.scoring import extras
from engine.scoring.extras import add_scores, merge_extras

CALLS: list[list[str]] = []
DIRECTIONS = {**HIGHER_IS_BETTER, "proxy_wer": False, "proxy_per": False, "dnsmos_ovrl": True, "lm_nll": False}


def length_scorer(options: ExtraOptions):
    """A model-free scorer for the tests: label length, and a 3-d 'embedding'; records every batch."""
    def score(batch: extras.Batch) -> dict[str, np.ndarray]:
        CALLS.append(batch.ids)
        n = np.array([len(t) for t in batch.labels], dtype=np.float32)
        return {"label_chars": n, "text_embedding": np.stack([n, n + 1, n + 2], axis=1)}
    return score


@pytest.fixture
def fake_extra(monkeypatch):
    CALLS.clear()
    monkeypatch.setitem(EXTRAS, "fake", Extra("fake", f"{__name__}:length_scorer", ("label_chars", "text_embedding"),
                                              help="test scorer"))
    return "fake"


def test_extra_names():
    assert extra_names("none") == []
    assert extra_names("default") == [n for n, e in EXTRAS.items() if e.default]
    assert extra_names("all") == list(EXTRAS)
    assert extra_names("truncation,truncation") == ["truncation"]
    with pytest.raises(ValueError, match="unknown score group 'nope'"):
        extra_names("truncation,nope")


def test_add_scores_resumes_and_rescores_changed_labels(tmp_workspace, fake_extra):
    table = add_scores(tmp_workspace.root, [fake_extra], shard_size=2)
    assert list(table["label_chars"]) == [len(t) for t in table["pseudo_label"]]
    assert sum(map(len, CALLS)) == len(table)
    embedding = np.load(tmp_workspace.path(EMBEDDINGS) / "text.npy")
    assert embedding.shape == (len(table), 3) and embedding[0, 1] == table["label_chars"][0] + 1

    CALLS.clear()
    add_scores(tmp_workspace.root, [fake_extra], shard_size=2)
    assert CALLS == []  # every shard was finished

    changed = tmp_workspace.read_scores()
    changed.loc[0, "pseudo_label"] = "a much longer label than before"
    tmp_workspace.write_scores(changed)
    table = add_scores(tmp_workspace.root, [fake_extra], shard_size=2)
    assert CALLS == [list(changed["id"][:2])]  # only the shard holding the changed label
    assert table["label_chars"][0] == len("a much longer label than before")


def test_merge_keeps_extras_and_skips_rows_without_a_label(tmp_workspace, fake_extra):
    scores = tmp_workspace.read_scores()
    scores.loc[2, "pseudo_label"] = pd.NA  # a clip the teacher could not label
    tmp_workspace.write_scores(scores)
    add_scores(tmp_workspace.root, [fake_extra], shard_size=4)
    assert all(2 not in [list(scores["id"]).index(i) for i in ids] for ids in CALLS)
    rewritten = merge_extras(tmp_workspace, scores)  # what a teacher re-merge does: the table without extras
    assert np.isnan(rewritten["label_chars"][2]) and rewritten["label_chars"][0] == len(scores["pseudo_label"][0])
    assert np.isnan(np.load(tmp_workspace.path(EMBEDDINGS) / "text.npy")[2]).all()
    assert "combined" in rewritten


def test_truncation_reads_the_edges():
    quiet_edges = np.r_[np.zeros(5), np.ones(20), np.zeros(5)]
    cut_start = np.r_[np.ones(25), np.zeros(5)]
    cut_end = np.r_[np.zeros(5), np.ones(25)]
    scores = truncation([quiet_edges, cut_start, cut_end, np.ones(4)])
    assert scores[0] == 0 and scores[1] == 1 and scores[2] == 1 and np.isnan(scores[3])


def _planted(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Rows whose true quality drives `confidence` and `proxy_wer` strongly and `dnsmos_ovrl` barely."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.6
    return pd.DataFrame({
        "good": good,
        "confidence": np.where(good, 0.8, 0.5) + rng.normal(0, 0.12, n),
        "proxy_wer": np.where(good, 0.1, 0.5) + rng.normal(0, 0.2, n),
        "dnsmos_ovrl": np.where(good, 3.1, 3.0) + rng.normal(0, 0.5, n),
        "lm_nll": rng.normal(3, 1, n),
    })


def test_combined_tuned_needs_references_and_predicts_out_of_fold():
    table = _planted(200)
    wer = pd.Series(np.where(table["good"], 0.05, 0.6))
    features = table.drop(columns="good")
    assert combined_tuned(features, DIRECTIONS, wer.where(wer.index < 20)) is None
    tuned = combined_tuned(features, DIRECTIONS, wer.where(wer.index < 150))
    assert roc_auc_score(table["good"][:150], tuned[:150]) > 0.85  # out-of-fold on the labelled rows
    assert roc_auc_score(table["good"][150:], tuned[150:]) > 0.85  # fitted model on the unlabelled ones
    # pure-noise references: out-of-fold predictions cannot learn them (an in-sample fit scores above 0.5)
    noise = pd.Series(np.random.default_rng(1).choice([0.05, 0.6], 200))
    assert roc_auc_score(noise <= 0.2, combined_tuned(features, DIRECTIONS, noise)) < 0.55


def test_with_combined_only_on_labelled_rows(tmp_workspace):
    table = tmp_workspace.read_scores()
    table["avg_logprob"] = np.linspace(-1.0, -0.1, len(table))  # a score the shipped calibration reads
    table.loc[1, "pseudo_label"] = pd.NA
    out = with_combined(table)
    assert np.isnan(out["combined"][1]) and out["combined"].notna().sum() == len(table) - 1
    assert "combined_tuned" not in out  # six rows are too few to tune on


def test_score_command_adds_to_an_existing_workspace(demo_workspace, tmp_path, capsys):
    from conftest import copy_workspace

    from whisper_curator.cli import main

    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    before = ws.read_scores().drop(columns=["truncation", "combined", "combined_tuned"], errors="ignore")
    extras_dir = ws.path(extras.EXTRAS_DIR) / "truncation"
    for shard in extras_dir.glob("*.parquet"):
        shard.unlink()
    assert main(["score", str(ws.root), "--add", "truncation"]) == 0
    assert "added truncation to 63 labelled clips" in capsys.readouterr().out
    after = ws.read_scores()
    pd.testing.assert_frame_equal(after[before.columns], before)  # the teacher pass was not redone
    truncated = after["id"].str.startswith("truncated")
    assert after.loc[truncated, "truncation"].mean() > after.loc[after["id"].str.startswith("real"), "truncation"].mean() + 0.3


def test_a_clip_whose_audio_is_gone_gets_nan_and_the_run_goes_on(tmp_workspace, fake_extra):
    table = tmp_workspace.table()
    Path(table["audio_filepath"][1]).unlink()  # lost after the teacher pass
    scored = add_scores(tmp_workspace.root, [fake_extra], shard_size=4)
    assert np.isnan(scored["label_chars"][1]) and scored["label_chars"].notna().sum() == len(table) - 1
    assert np.isnan(np.load(tmp_workspace.path(EMBEDDINGS) / "text.npy")[1]).all()
