"""Scoring end to end: the demo with the real teacher, and resumption on a small synthetic set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.io.workspace import EMBEDDINGS, SHARDS, Workspace
from engine.scoring import pipeline
from engine.scoring.pipeline import ScoreOptions, score
from engine.teacher.base import Teacher


@pytest.fixture(scope="module")
def demo(demo_workspace):
    table = demo_workspace.read_scores()
    kinds = pd.DataFrame([{"id": c.id, "kind": c.custom.get("kind"), "source": c.custom.get("source"), "text": c.text}
                          for c in demo_workspace.read_clips()])
    return demo_workspace, table.merge(kinds, on="id")


def test_every_clip_has_one_row_and_a_status(demo):
    ws, table = demo
    assert list(table["id"]) == [c.id for c in ws.read_clips()]
    assert set(table["status"]) <= {"ok", "flagged", "error"}
    assert (table.loc[table["status"] != "ok", "reason"].str.len() > 0).all()
    assert (table.loc[table["status"] == "ok", "reason"] == "").all()


@pytest.mark.parametrize("kind,status,reason", [
    ("corrupt", "error", "cannot decode"),
    ("empty", "error", "empty"),
    ("long", "flagged", "longer than 30 s"),
    ("silence", "flagged", ""),
    ("clipped", "flagged", "clipped"),
])
def test_bad_input_is_flagged_with_a_reason(demo, kind, status, reason):
    _, table = demo
    rows = table[table["kind"] == kind]
    assert len(rows), f"the demo has no {kind} clip"
    assert (rows["status"] == status).all(), rows[["id", "status", "reason"]]
    assert rows["reason"].str.contains(reason).all()


def test_clean_speech_is_labelled_well(demo):
    _, table = demo
    clean = table[table["kind"].isin(["real", "synthetic"]) & (table["status"] == "ok")]
    assert len(clean) >= 10
    assert clean["wer"].median() < 0.15
    assert clean["pseudo_label"].str.len().gt(0).all()


def test_confidence_is_lower_on_noise_than_on_clean_speech(demo):
    _, table = demo
    clean = table.loc[table["kind"] == "real", "confidence"]
    noisy = table.loc[table["kind"].isin(["noise_snr0", "noise_snr-5", "babble"]), "confidence"]
    assert len(noisy) and clean.mean() > noisy.mean()


@pytest.mark.parametrize("score,worse", [("confidence", np.less), ("min_token_prob", np.less),
                                         ("avg_logprob", np.less), ("entropy", np.greater)])
def test_teacher_scores_get_worse_under_corruption(demo, score, worse):
    """Each noisy, clipped or truncated clip against its clean twin (same source and text)."""
    _, table = demo
    clean = table[table["kind"].isin(["real", "synthetic"])].drop_duplicates(["source", "text"])
    corrupted = table[table["kind"].isin(["noise_snr5", "noise_snr0", "noise_snr-5", "clipped", "truncated"])]
    pairs = corrupted.merge(clean, on=["source", "text"], suffixes=("_bad", "_clean"))
    assert len(pairs) >= 10
    bad, good = pairs[f"{score}_bad"].to_numpy(), pairs[f"{score}_clean"].to_numpy()
    assert worse(bad, good).mean() >= 0.8, pairs[["kind_bad", f"{score}_clean", f"{score}_bad"]]
    assert worse(bad.mean(), good.mean())


def test_non_speech_is_recognised(demo):
    _, table = demo
    non_speech = table[table["kind"].isin(["silence", "tones", "noise_only"])]
    assert (non_speech["speech_ratio"] < 0.1).all()
    assert (table.loc[table["kind"] == "real", "speech_ratio"] > 0.3).all()  # short card reads have pauses
    assert (table.loc[table["kind"] == "silence", "no_speech_prob"] > 0.5).all()
    assert non_speech["lang_prob"].mean() < table.loc[table["kind"] == "real", "lang_prob"].mean()


def test_english_clips_match_their_stated_language(demo):
    _, table = demo
    real = table[table["kind"] == "real"]
    assert (real["lang_mismatch"] == 0).all() and (real["detected_lang"] == "en").all()


def test_embeddings_follow_table_rows(demo):
    ws, table = demo
    embeddings = np.load(ws.path(EMBEDDINGS) / "audio.npy")
    assert embeddings.shape == (len(table), 512) and embeddings.dtype == np.float16
    labelled = table["pseudo_label"].notna().to_numpy()
    assert np.isfinite(embeddings[labelled]).all() and np.isnan(embeddings[~labelled]).all()


def test_rerun_skips_finished_shards_and_gives_the_same_table(tmp_path, monkeypatch):
    from tests.conftest import dummy_clip

    for i in range(4):
        dummy_clip(tmp_path / "in", f"t{i}.wav", seconds=1.0 + i)
    options = ScoreOptions(shard_size=2)
    first = score(tmp_path / "in", tmp_path / "ws", options=options)
    assert first.merged and first.clips == 4
    ws = Workspace(tmp_path / "ws")
    reference = ws.read_scores()
    shards = sorted(ws.path(SHARDS).glob("*.parquet"))
    assert len(shards) == 2
    shards[1].unlink()  # as if the process died before the second shard finished
    labelled = []
    original = Teacher.run
    monkeypatch.setattr(Teacher, "run", lambda self, w, langs: labelled.extend(w) or original(self, w, langs))
    score(tmp_path / "in", tmp_path / "ws", options=options)
    assert len(labelled) == 2  # only the missing shard's clips went through the teacher again
    pd.testing.assert_frame_equal(ws.read_scores(), reference)


def test_ranks_score_disjoint_shards_and_the_last_one_merges(tmp_path):
    from tests.conftest import dummy_clip

    for i in range(3):
        dummy_clip(tmp_path / "in", f"t{i}.wav")
    rank0 = score(tmp_path / "in", tmp_path / "ws", options=ScoreOptions(shard_size=1, num_shards=2, shard_index=0))
    assert rank0.clips == 2 and not rank0.merged
    rank1 = score(tmp_path / "in", tmp_path / "ws", options=ScoreOptions(shard_size=1, num_shards=2, shard_index=1))
    assert rank1.clips == 1 and rank1.merged
    assert len(Workspace(tmp_path / "ws").read_scores()) == 3


def test_shard_names_change_with_the_clips(tmp_path):
    from engine.io.workspace import Clip
    from engine.teacher.options import TeacherOptions

    ws = Workspace(tmp_path)
    a = pipeline.teacher_shards(ws, [Clip("a", "/a")], ScoreOptions(), TeacherOptions()).paths
    b = pipeline.teacher_shards(ws, [Clip("b", "/b")], ScoreOptions(), TeacherOptions()).paths
    assert a != b


def test_a_shard_of_only_unreadable_clips_merges_with_the_rest(tmp_path):
    from tests.conftest import dummy_clip

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_empty.wav").write_bytes(b"")
    dummy_clip(tmp_path / "in", "b_tone.wav")
    summary = score(tmp_path / "in", tmp_path / "ws", options=ScoreOptions(shard_size=1))
    assert summary.merged and summary.status_counts["error"] == 1
    ws = Workspace(tmp_path / "ws")
    table = ws.read_scores()
    assert list(table["status"])[0] == "error" and "empty" in table["reason"][0]
    embeddings = np.load(ws.path(EMBEDDINGS) / "audio.npy")
    assert embeddings.shape == (2, 512) and np.isnan(embeddings[0]).all() and np.isfinite(embeddings[1]).all()
