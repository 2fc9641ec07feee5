"""The demo ships inside the package: a non-editable install carries its clips and writes its workspace
to the user cache, never into the source tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from engine.demo import DEMO_MANIFEST, default_demo_workspace
from tests.conftest import ROOT

FIND_DEMO = ("import json, pathlib, engine.demo as d; m = d.DEMO_MANIFEST; "
             "print(json.dumps([str(m)] + [str(m.parent / json.loads(l)['audio_filepath']) "
             "for l in m.read_text().splitlines() if l.strip()]))")


def test_the_demo_manifest_names_only_clips_beside_it():
    rows = [json.loads(line) for line in DEMO_MANIFEST.read_text().splitlines() if line.strip()]
    assert len(rows) > 50 and all((DEMO_MANIFEST.parent / r["audio_filepath"]).is_file() for r in rows)
    assert ROOT / "engine" in DEMO_MANIFEST.parents


def test_a_built_wheel_carries_the_demo_and_finds_it_outside_the_source_tree(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("whisper_curator-*.whl"))
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    found = subprocess.run([sys.executable, "-c", FIND_DEMO], capture_output=True, text=True, check=True,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed), "PYTHONSAFEPATH": "1"})
    manifest, *clips = map(Path, json.loads(found.stdout))
    assert installed in manifest.parents, f"the demo was read from {manifest}, not from the installed package"
    assert len(clips) > 50 and all(c.is_file() for c in clips)


def test_the_demo_workspace_lives_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(tmp_path / "cache"))
    assert default_demo_workspace() == tmp_path / "cache" / "demo"
