"""The app's handlers through its HTTP API (gradio_client), on a small workspace with a tiny map: the
threshold slider, the Review player and the Map selection, with the session's recipe kept between calls."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.analysis.mapping import MAP
from engine.io.recipe import Recipe, kept_mask
from engine.io.workspace import Workspace, write_table_atomic
from testing.browser import served
from tests.conftest import dummy_workspace


def workspace_with_map(root: Path) -> Workspace:
    """The dummy workspace, its clips placed on a line: clip-c{i} at x = i, y = i % 3."""
    return place_on_a_line(dummy_workspace(root))


def place_on_a_line(ws: Workspace) -> Workspace:
    """Write a map placing clip-c{i} at x = i, y = i % 3."""
    ids = ws.table()["id"]
    positions = np.arange(len(ids), dtype=np.float32)
    write_table_atomic(ws.path(MAP), pd.DataFrame({"id": ids, "x": positions, "y": positions % 3}))
    return ws


@pytest.fixture(scope="module")
def map_workspace(tmp_path_factory) -> Workspace:
    return workspace_with_map(tmp_path_factory.mktemp("client") / "ws")


@pytest.fixture(scope="module")
def client(map_workspace):
    from gradio_client import Client

    with served(map_workspace.root) as url:
        yield Client(url, verbose=False)


def test_threshold_slider_changes_the_totals_and_the_session_recipe(client, map_workspace):
    table = map_workspace.table()
    endpoint = "/set_lower_bound"
    before = client.predict("confidence", 0.0, 10.0, api_name=endpoint)[0]
    assert f"Kept {int(kept_mask(table, Recipe()).sum())} clips" in before
    totals, _, active, _ = client.predict("confidence", 0.6, 10.0, api_name=endpoint)
    recipe = Recipe().with_bounds("confidence", min=0.6)
    assert totals != before and f"Kept {int(kept_mask(table, recipe).sum())} clips" in totals
    assert "`confidence` ≥ 0.6" in active
    rejected = table["id"][~kept_mask(table, recipe) & (table["status"] == "ok")].iloc[0]
    audio, details = client.predict(rejected, api_name="/review_details")  # the same session's recipe
    assert "fails confidence" in details and Path(audio).is_file()


def test_review_details_play_the_clip_and_show_its_diff(client):
    audio, details = client.predict("clip-c2", api_name="/review_details")
    assert Path(audio).suffix == ".wav" and Path(audio).stat().st_size > 0
    assert "<h3 style='margin:0'>clip-c2</h3>" in details and "Reference → pseudo-label" in details


def test_map_selection_lists_the_clips_in_a_box_a_lasso_or_clicked(client):
    def listed(selection: dict, colour: str = "kept / rejected") -> tuple[list[str], str]:
        frame, info = client.predict(colour, json.dumps(selection), api_name="/map_selection")
        return [row[0] for row in frame["data"]], info

    ids, info = listed({"box": {"x": [0.5, 3.5], "y": [-1, 5]}})
    assert sorted(ids) == ["clip-c1", "clip-c2", "clip-c3"] and info.startswith("**3 clips selected**")
    ids, _ = listed({"lasso": {"x": [-0.5, 4.5, -0.5], "y": [-0.5, -0.5, 4]}}, "wer")  # c0, c1 below the slope, c3
    assert sorted(ids) == ["clip-c0", "clip-c1", "clip-c3"]
    assert listed({"ids": ["clip-c4"]})[0] == ["clip-c4"]
    assert listed({"box": {"x": [10, 11], "y": [0, 1]}})[1].startswith("No clips")
    audio, details = client.predict("clip-c4", api_name="/map_details")
    assert Path(audio).is_file() and "clip-c4" in details
