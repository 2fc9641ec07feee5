import json

import pandas as pd
import pytest

from engine.io.ingest import read_input
from engine.io.workspace import Workspace, clip_id
from tests.conftest import dummy_clip


def test_folder_input_lists_audio_files_recursively(tmp_path):
    dummy_clip(tmp_path / "in", "a.wav")
    dummy_clip(tmp_path / "in" / "sub", "b.flac")
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    clips = read_input(tmp_path / "in", tmp_path / "audio")
    assert [c.audio_filepath.rsplit("/", 1)[1] for c in clips] == ["a.wav", "b.flac"]
    assert clips[0].id == clip_id(tmp_path / "in" / "a.wav")


def test_jsonl_resolves_relative_paths_and_keeps_extra_fields(tmp_path):
    dummy_clip(tmp_path / "data" / "wav", "x.wav")
    manifest = tmp_path / "data" / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "wav/x.wav", "duration": 1.0, "text": "hi", "lang": "en",
                                    "speaker": "s1"}) + "\n")
    [clip] = read_input(manifest, tmp_path / "audio")
    assert clip.audio_filepath == str(tmp_path / "data" / "wav" / "x.wav")
    assert (clip.text, clip.lang, clip.duration, clip.custom) == ("hi", "en", 1.0, {"speaker": "s1"})


def test_bad_manifest_rows_become_problems_not_crashes(tmp_path):
    dummy_clip(tmp_path, "x.wav")
    rows = ['{"audio_filepath": "x.wav", "id": "same"}', "{not json", '{"duration": 2}',
            '{"audio_filepath": "x.wav", "id": "same"}', "[1, 2]"]
    (tmp_path / "m.jsonl").write_text("\n".join(rows) + "\n")
    clips = read_input(tmp_path / "m.jsonl", tmp_path / "audio")
    assert [c.problem for c in clips][0] is None
    assert "line 2 is not valid JSON" in clips[1].problem
    assert "line 3 has no audio_filepath" in clips[2].problem
    assert "duplicate id" in clips[3].problem and clips[3].id == "same~2"
    assert "not a JSON object" in clips[4].problem
    assert len({c.id for c in clips}) == len(clips)


def test_csv_input(tmp_path):
    dummy_clip(tmp_path, "x.wav")
    pd.DataFrame({"audio_filepath": ["x.wav"], "duration": [1.0], "sentence": ["hello"]}).to_csv(tmp_path / "m.csv", index=False)
    [clip] = read_input(tmp_path / "m.csv", tmp_path / "audio")
    assert clip.text == "hello" and clip.audio_filepath == str(tmp_path / "x.wav")


def test_hf_dataset_with_embedded_audio_is_materialised(tmp_path):
    import datasets

    wav = dummy_clip(tmp_path, "x.wav").audio_filepath
    data = open(wav, "rb").read()
    ds = datasets.Dataset.from_dict({"audio": [{"bytes": data, "path": "x.wav"}] * 2, "text": ["one", "two"]})
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "hf"))
    clips = read_input(tmp_path / "hf", tmp_path / "ws" / "audio")
    assert [c.text for c in clips] == ["one", "two"] and clips[0].custom["split"] == "train"
    assert all(open(c.audio_filepath, "rb").read() == data for c in clips)
    assert clips[0].id != clips[1].id


def test_missing_or_unknown_input_is_a_readable_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_input(tmp_path / "nope", tmp_path)
    (tmp_path / "x.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="unsupported input"):
        read_input(tmp_path / "x.parquet", tmp_path)


def test_workspace_round_trips_clips(tmp_path):
    ws = Workspace(tmp_path / "ws")
    clips = read_input(dummy_clip(tmp_path, "x.wav").audio_filepath.rsplit("/", 1)[0], tmp_path / "a")
    ws.write_clips(clips)
    assert [c.to_dict() for c in ws.read_clips()] == [c.to_dict() for c in clips]
