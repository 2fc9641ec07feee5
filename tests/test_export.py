"""Export: NeMo JSONL and Hugging Face dataset of the kept set, atomically, from the library and the CLI."""
from __future__ import annotations

import json

import pytest

from engine.io.export import export
from engine.io.recipe import Recipe, save_recipe
from whisper_curator.cli import build_parser, main


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_nemo_manifest_holds_the_kept_clips(tmp_workspace, tmp_path):
    recipe = Recipe(overrides={"clip-c0": "reject"})
    summary = export(tmp_workspace, recipe, "nemo", tmp_path / "out")
    rows = read_jsonl(tmp_path / "out" / "manifest.jsonl")
    clips = {c.id: c for c in tmp_workspace.read_clips()}
    labels = tmp_workspace.read_scores().set_index("id")["pseudo_label"]
    assert [r["id"] for r in rows] == ["clip-c1", "clip-c2", "clip-c3", "clip-c4"]  # c5 is flagged
    for r in rows:
        assert r["audio_filepath"] == clips[r["id"]].audio_filepath and r["audio_filepath"].startswith("/")
        assert r["text"] == labels[r["id"]] and r["reference"] == clips[r["id"]].text and r["lang"] == "en"
        assert r["duration"] == clips[r["id"]].duration
    assert summary.clips == 4 and summary.hours == pytest.approx((2 + 3 + 4 + 5) / 3600)
    assert Recipe.from_yaml((tmp_path / "out" / "recipe.yaml").read_text()) == recipe


def test_hf_dataset_loads_with_audio_paths(tmp_workspace, tmp_path):
    from datasets import Audio, load_from_disk

    export(tmp_workspace, Recipe(include_flagged=True), "hf", tmp_path / "hf")
    dataset = load_from_disk(str(tmp_path / "hf"))
    assert len(dataset) == 6
    assert dataset.features["audio"] == Audio(sampling_rate=16000, decode=False)
    assert {"audio", "text", "lang", "duration", "id"} <= set(dataset.column_names)
    row = dataset[0]
    assert row["text"] == "label 0" and row["id"] == "clip-c0" and row["duration"] == 1.0
    assert row["audio"]["path"] == "c0.wav" and row["audio"]["bytes"][:4] == b"RIFF"  # embedded by save_to_disk
    assert row["audio_filepath"].endswith("/audio/c0.wav")


def test_export_replaces_an_earlier_export_but_no_other_folder(tmp_workspace, tmp_path):
    out = tmp_path / "out"
    export(tmp_workspace, Recipe(), "nemo", out)
    export(tmp_workspace, Recipe(overrides={"clip-c0": "reject"}), "nemo", out)
    assert len(read_jsonl(out / "manifest.jsonl")) == 4
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an earlier export"):
        export(tmp_workspace, Recipe(), "nemo", precious)
    assert (precious / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_an_empty_selection_is_refused(tmp_workspace, tmp_path):
    with pytest.raises(ValueError, match="keeps no clips"):
        export(tmp_workspace, Recipe().with_bounds("confidence", min=2), "nemo", tmp_path / "out")


def test_cli_export_uses_the_saved_recipe(tmp_workspace, tmp_path, capsys):
    save_recipe(tmp_workspace, Recipe(overrides={"clip-c1": "reject"}))
    assert main(["export", str(tmp_workspace.root), "--format", "nemo", "--out", str(tmp_path / "n")]) == 0
    assert capsys.readouterr().out.startswith("exported 4 clips")
    assert "clip-c1" not in {r["id"] for r in read_jsonl(tmp_path / "n" / "manifest.jsonl")}


def test_cli_export_with_a_recipe_file_and_its_errors(tmp_workspace, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(Recipe(include_flagged=True).to_yaml())
    assert main(["export", str(tmp_workspace.root), "--recipe", str(recipe), "--format", "hf", "--out", str(tmp_path / "h")]) == 0
    assert "exported 6 clips" in capsys.readouterr().out
    recipe.write_text("combine: sometimes")
    assert main(["export", str(tmp_workspace.root), "--recipe", str(recipe), "--format", "nemo", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("whisper-curator export:") and "combine must be one of" in err and "\n" not in err
    assert main(["export", str(tmp_path / "nowhere"), "--format", "nemo", "--out", str(tmp_path / "x")]) == 1
    assert "no scores.parquet" in capsys.readouterr().err


def test_every_export_option_is_explained():
    sub = build_parser()._subparsers._group_actions[0].choices["export"]
    for action in sub._actions:
        assert action.help and len(action.help) > 10, f"export {action.option_strings or action.dest} has no help"
