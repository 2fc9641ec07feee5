"""The map as `score` and the demo make it: made when missing or when clips came or went, kept when current,
skipped with --no-map; on synthetic workspaces with random embeddings (no model)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from engine.analysis import mapping
from engine.analysis.mapping import MAP, STEPS, audio_map, read_map, update_map
from engine.io.workspace import EMBEDDINGS, Workspace, write_array_atomic
from engine.scoring import pipeline
from whisper_curator.cli import main


def with_embedding(ws: Workspace, name: str = "audio", missing: tuple[int, ...] = ()) -> Workspace:
    """Random embeddings/<name>.npy for the clips in scores.parquet, NaN on the `missing` rows."""
    values = np.random.default_rng(len(name)).normal(size=(len(ws.read_scores()), 16)).astype(np.float16)
    values[list(missing)] = np.nan
    write_array_atomic(ws.path(EMBEDDINGS) / f"{name}.npy", values)
    return ws


def add_clip(ws: Workspace) -> None:
    """One more scored clip with an audio embedding, as a rescore of a grown input leaves it."""
    scores = ws.read_scores()
    ws.write_scores(pd.concat([scores, scores.tail(1).assign(id="clip-new")], ignore_index=True))
    embeddings = np.load(ws.path(EMBEDDINGS) / "audio.npy")
    write_array_atomic(ws.path(EMBEDDINGS) / "audio.npy", np.concatenate([embeddings, embeddings[-1:] + 1]))


def test_update_map_makes_a_missing_map_then_keeps_it_until_clips_change(tmp_workspace, monkeypatch):
    ws = with_embedding(tmp_workspace, missing=(0,))  # an error clip has no embedding
    assert update_map(ws) == f"mapped 5 clips by their audio embedding into {ws.path(MAP)}"
    made = read_map(ws)
    assert list(made["id"]) == list(ws.read_scores()["id"][1:])

    ws.write_scores(ws.read_scores().assign(confidence=0.5))  # new scores, same clips: what `score --add` does
    with monkeypatch.context() as patched:
        patched.setattr(mapping, "audio_map", lambda *a, **k: pytest.fail("a current map was made again"))
        assert update_map(ws) == f"the map {ws.path(MAP)} is up to date"
    pd.testing.assert_frame_equal(read_map(ws), made)

    add_clip(ws)
    assert update_map(ws).startswith("mapped 6 clips")
    assert "clip-new" in set(read_map(ws)["id"])


def test_a_map_by_text_is_current_too(tmp_workspace):
    ws = with_embedding(with_embedding(tmp_workspace), "text", missing=(2,))  # a blank label has no text embedding
    text_map = audio_map(ws, embedding="text")
    assert len(text_map) == 5 and update_map(ws).endswith("is up to date")
    pd.testing.assert_frame_equal(read_map(ws), text_map)


def test_too_few_clips_to_map_is_said_not_raised(tmp_workspace):
    ws = with_embedding(tmp_workspace, missing=(0, 1, 2, 3))
    assert update_map(ws).startswith("no map: only 2 clips have an audio embedding")
    assert read_map(ws) is None


def test_audio_map_reports_its_steps(tmp_workspace):
    heard = []
    audio_map(with_embedding(tmp_workspace), progress=lambda done, total: heard.append((done, total)))
    assert heard == [(step, STEPS) for step in range(STEPS + 1)]


@dataclass
class FakeScoring:
    """Stand-ins for `score` and `add_scores` that note their calls (and whether a map existed then)."""

    calls: list[str] = field(default_factory=list)
    merged: bool = True  # whether this process's `score` merged scores.parquet

    def score(self, *args, **kwargs) -> pipeline.Summary:
        self.calls.append("score")
        return pipeline.Summary(6, {"ok": 6}, 6.0, 1.0, merged=self.merged)

    def add_scores(self, workspace, names, *args, **kwargs) -> pd.DataFrame:
        self.calls.append(f"add {','.join(names)} (map: {read_map(Workspace(workspace)) is not None})")
        return Workspace(workspace).read_scores()


@pytest.fixture
def fake(monkeypatch) -> FakeScoring:
    fake = FakeScoring()
    monkeypatch.setattr(pipeline, "score", fake.score)
    monkeypatch.setattr(pipeline, "add_scores", fake.add_scores)
    return fake


def test_score_adds_scores_then_maps_unless_told_not_to(tmp_workspace, fake, capsys):
    ws = with_embedding(tmp_workspace)
    assert main(["score", str(ws.root), "--add", "truncation", "--no-map"]) == 0
    assert read_map(ws) is None and fake.calls == ["score", "add truncation (map: False)"]
    assert main(["score", str(ws.root), "--add", "truncation"]) == 0
    assert fake.calls[2:] == ["score", "add truncation (map: False)"] and len(read_map(ws)) == 6
    assert capsys.readouterr().out.splitlines()[-1] == f"mapped 6 clips by their audio embedding into {ws.path(MAP)}"


def test_a_rank_that_does_not_merge_makes_no_map(tmp_workspace, fake):
    ws = with_embedding(tmp_workspace)
    fake.merged = False
    assert main(["score", str(ws.root), "--add", "truncation", "--num-shards", "2", "--shard-index", "0"]) == 0
    assert fake.calls == ["score"] and read_map(ws) is None
