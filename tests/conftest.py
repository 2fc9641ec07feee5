"""Shared fixtures: synthetic clips and workspaces (no model), and the demo scored once per session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.demo import DEMO_MANIFEST
from engine.io.workspace import Workspace
from testing import ROOT
from testing.dummies import dummy_clip, dummy_workspace, tone  # noqa: F401 (the tests import them from here)

ARTIFACTS = ROOT / "test-artifacts"

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Workspace:
    return dummy_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The bundled demo scored and mapped once, as users get it: the real teacher, the default extra scores
    and the map (about two minutes on 2 cores)."""
    from engine.demo import demo_workspace as score_demo

    if not DEMO_MANIFEST.is_file():
        pytest.fail(f"demo data missing: {DEMO_MANIFEST}; run python assets/make_demo.py")
    return Workspace(score_demo(tmp_path_factory.mktemp("demo") / "ws"))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def copy_workspace(ws: Workspace, target: Path) -> Workspace:
    shutil.copytree(ws.root, target)
    return Workspace(target)
