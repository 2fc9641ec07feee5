"""Real processes: `kill -9` mid-run then resume, and two ranks scoring halves — both must equal
an uninterrupted run exactly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from engine.io.workspace import SCORES, SHARDS
from testing.drills import SHARD_SIZE, finished_shards, score_command
from tests.conftest import DEMO_MANIFEST

N_CLIPS = 8


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory) -> Path:
    """Eight clean demo clips, as a manifest with absolute paths."""
    rows = [json.loads(line) for line in DEMO_MANIFEST.read_text().splitlines()]
    chosen = [r for r in rows if r["kind"] in ("real", "synthetic")][:N_CLIPS]
    path = tmp_path_factory.mktemp("small") / "manifest.jsonl"
    path.write_text("".join(json.dumps({**r, "audio_filepath": str(DEMO_MANIFEST.parent / r["audio_filepath"])}) + "\n"
                            for r in chosen))
    return path


@pytest.fixture(scope="module")
def uninterrupted(small_manifest, tmp_path_factory) -> pd.DataFrame:
    workspace = tmp_path_factory.mktemp("reference") / "ws"
    subprocess.run(score_command(small_manifest, workspace), check=True, capture_output=True)
    return pd.read_parquet(workspace / SCORES)


def test_kill_9_mid_run_then_resume_gives_the_same_table(small_manifest, uninterrupted, tmp_path):
    workspace = tmp_path / "ws"
    process = subprocess.Popen(score_command(small_manifest, workspace), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not finished_shards(workspace) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(finished_shards(workspace))
    assert 1 <= done < N_CLIPS // SHARD_SIZE, "the kill should land between the first and the last shard"
    assert not (workspace / SCORES).exists()
    resumed = subprocess.run(score_command(small_manifest, workspace), check=True, capture_output=True, text=True)
    assert "scores.parquet written" in resumed.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(workspace / SCORES), uninterrupted)
    assert not list((workspace / SHARDS).glob(".*.tmp")), "temporaries of the killed writer are cleaned up"


def test_two_ranks_then_merge_give_the_same_table(small_manifest, uninterrupted, tmp_path):
    workspace = tmp_path / "ws"
    ranks = [subprocess.Popen(score_command(small_manifest, workspace, "--num-shards", "2", "--shard-index", str(i)),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for i in range(2)]
    outputs = [r.communicate(timeout=600)[0] for r in ranks]
    assert all(r.returncode == 0 for r in ranks)
    assert any("scores.parquet written" in out for out in outputs)
    pd.testing.assert_frame_equal(pd.read_parquet(workspace / SCORES), uninterrupted)
    (workspace / SCORES).unlink()
    subprocess.run([sys.executable, "-m", "whisper_curator", "merge", str(workspace)], check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_parquet(workspace / SCORES), uninterrupted)


def test_ranks_come_from_torchrun_environment(small_manifest, tmp_path):
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "4"}
    out = subprocess.run(score_command(small_manifest, tmp_path / "ws"), env=env, check=True, capture_output=True,
                         text=True)
    assert out.stdout.startswith(f"{SHARD_SIZE} clips") and "waiting for other ranks" in out.stdout
    assert len(finished_shards(tmp_path / "ws")) == 1
