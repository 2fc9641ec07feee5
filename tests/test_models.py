import json

from engine.teacher import models


def test_default_teacher_is_assembled_verified_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(tmp_path))
    folder = models.default_teacher_dir()
    stamp = json.loads((folder / "assembled.json").read_text())
    assert stamp["sha256"] == models.EXPECTED_SHA256
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in folder.iterdir()}
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert models.default_teacher_dir() == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # reused, not rewritten


def test_damaged_cache_is_reassembled(tmp_path, monkeypatch):
    monkeypatch.setenv("WHISPER_CURATOR_CACHE", str(tmp_path))
    folder = models.default_teacher_dir()
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(1000)
    assert models.default_teacher_dir() == folder
    assert (folder / "model.bin").stat().st_size == json.loads((folder / "assembled.json").read_text())["size"]
    assert not list(tmp_path.glob("ct2/.*"))  # no temporary leftovers
