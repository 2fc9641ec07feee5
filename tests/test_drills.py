"""Crash drills in a small form (benchmarks/reliability.py runs them long): kill -9 of scoring at random
moments, of export and recipe saves at random moments and before every file-system step of the atomic
write, a full disk and a read-only workspace. Scoring always resumes to the uninterrupted table; a
written file is always the old version or the new one."""
from __future__ import annotations

import random
import subprocess

import pandas as pd
import pytest

from engine.io.workspace import SCORES, SHARDS, Workspace
from testing import drills
from testing.drills import finished_shards, score_command

N_CLIPS = 4
FAST = ("--window", "fit", "--shard-size", "1")  # one clip a shard: most kills land mid-run
KILLS = 3
WRITER_KILLS = 3


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return drills.clean_manifest(tmp_path_factory.mktemp("drills"), N_CLIPS)


@pytest.fixture(scope="module")
def uninterrupted(manifest, tmp_path_factory) -> tuple[Workspace, drills.Timing]:
    """The workspace of an uninterrupted run and its timing."""
    workspace = tmp_path_factory.mktemp("reference") / "ws"
    timing = drills.timed_run(score_command(manifest, workspace, *FAST), lambda: len(finished_shards(workspace)))
    return Workspace(workspace), timing


def test_kill_9_at_random_moments_then_resume_gives_the_same_table(manifest, uninterrupted, tmp_path):
    reference, timing = uninterrupted
    workspace = tmp_path / "ws"
    command = score_command(manifest, workspace, *FAST)
    kills = drills.kill_runs(command, lambda: len(finished_shards(workspace)), KILLS, timing, random.Random(0))
    assert drills.unreadable_shards(workspace / SHARDS) == []
    assert any(not k.finished_first for k in kills)
    resumed = subprocess.run(command, check=True, capture_output=True, text=True)
    assert "scores.parquet written" in resumed.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(workspace / SCORES), reference.read_scores())
    assert not list(workspace.rglob(".*.tmp")), "temporaries of killed writers are cleaned up"


@pytest.mark.parametrize("kind", sorted(drills.WRITERS))
def test_kill_9_during_a_write_leaves_the_old_or_the_new_version(kind, tmp_path):
    ws = drills.writer_workspace(kind, tmp_path / "ws")
    rng = random.Random(1)
    states = [drills.kill_writer_at_random(kind, ws, 1.5, rng) for _ in range(WRITER_KILLS)]
    assert all(s in ("v0", "v1") for s in states), states
    drills.WRITERS[kind].write(ws, 1)
    assert drills.state(kind, ws) == "v1" and drills.temporaries(kind, ws) == [], "the next write cleans up"


@pytest.mark.parametrize("kind", sorted(drills.WRITERS))
def test_kill_9_before_each_step_of_a_write_leaves_the_old_or_the_new_version(kind, tmp_path):
    ws = drills.writer_workspace(kind, tmp_path / "ws")
    states = drills.kill_at_every_step(kind, ws)
    assert all(s in ("v0", "v1") for s in states), states
    assert states[-1] == "v1" and len(states) > 3 and drills.temporaries(kind, ws) == []


@pytest.mark.parametrize("condition", drills.CONDITIONS)
def test_full_disk_or_read_only_workspace_fails_in_one_sentence_and_resumes(condition, manifest, uninterrupted,
                                                                             tmp_path):
    reference, _ = uninterrupted
    workspace = drills.partly_scored(reference.root, tmp_path / "ws", keep_shards=N_CLIPS - 1)
    command = score_command(manifest, workspace, *FAST)
    failure = drills.failed_run(command, workspace, condition, drills.shard_room(workspace))
    assert failure.returncode == 1
    assert failure.message.startswith("whisper-curator score: ") and str(workspace) in failure.message
    assert any(words in failure.message for words in ("File too large", "No space left", "Read-only", "Permission"))
    assert failure.changed == [] and failure.leftovers == []
    subprocess.run(command, check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_parquet(workspace / SCORES), reference.read_scores())


@pytest.mark.parametrize("condition", drills.CONDITIONS)
def test_export_on_a_full_disk_or_read_only_folder_keeps_the_previous_export(condition, tmp_path):
    ws = drills.writer_workspace("export", tmp_path / "ws")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(drills.export_versions()[1].to_yaml())
    command = drills.export_command(ws, recipe)
    failure = drills.failed_run(command, ws.root, condition, room=64_000)
    assert failure.returncode == 1 and failure.message.startswith("whisper-curator export: ")
    assert str(ws.root) in failure.message
    assert failure.changed == [] and failure.leftovers == [] and drills.state("export", ws) == "v0"
