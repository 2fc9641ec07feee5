"""Opening any input: which workspace an input opens in."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.prepare import WORKSPACES, needs_scoring, workspace_for
from tests.conftest import dummy_clip, dummy_workspace


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_workspace_opens_itself_and_is_scored_only_when_unfinished(tmp_path, cache):
    ws = dummy_workspace(tmp_path / "ws")
    assert workspace_for(ws.root) == ws.root and not needs_scoring(ws.root, ws.root)
    ws.path("scores.parquet").unlink()  # scoring was interrupted: the workspace resumes
    assert workspace_for(ws.root) == ws.root and needs_scoring(ws.root, ws.root)
    assert not cache.exists()


def test_other_inputs_open_a_workspace_named_after_them_in_the_cache(tmp_path, cache):
    folder = tmp_path / "my clips"
    dummy_clip(folder)
    manifest = tmp_path / "set.jsonl"
    manifest.write_text('{"audio_filepath": "my clips/clip.wav"}\n')
    opened = workspace_for(folder)
    assert opened.parent == cache / WORKSPACES and opened.name.startswith("my_clips-")
    assert workspace_for(str(folder) + "/") == opened and workspace_for(folder / ".." / folder.name) == opened
    assert workspace_for(manifest).parent == cache / WORKSPACES and workspace_for(manifest).name.startswith("set-")
    assert len({opened, workspace_for(manifest), workspace_for(tmp_path)}) == 3
    assert needs_scoring(folder, opened)
    assert workspace_for(folder, tmp_path / "chosen") == (tmp_path / "chosen").resolve()
    with pytest.raises(FileNotFoundError, match="input not found"):
        workspace_for(tmp_path / "nothing")
