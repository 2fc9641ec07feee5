"""The bad-input corpus, generated on demand (never committed): every kind of broken or awkward input a
user's data may hold, each in a NeMo manifest and, where a file can carry it, in a plain folder.

`write_corpus(root)` writes the audio under `root/audio/` and returns a `Corpus`: the manifest of every
case mixed with good clips, the manifest of the good clips alone (the reference run) and what each case
must end as. Clips are a few seconds at most, so scoring the whole corpus takes well under a minute.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from engine.demo import DEMO_MANIFEST
from engine.io.audio import SAMPLE_RATE, load_audio
from engine.io.workspace import EMBEDDINGS, Workspace
from engine.scoring.pipeline import ScoreOptions, Summary, score
from engine.teacher.options import TeacherOptions

GOOD_CLIPS = ("real_0002.flac", "real_0009.flac", "synthetic_0001.flac")  # clean demo speech
SPEECH = "synthetic_0001.flac"  # the speech every format variant is made of
NESTED = "dir with spaces/été ünïcödé 日本語 clip.wav"


@dataclass(frozen=True)
class Case:
    """One class of bad input and what it must end as."""

    name: str
    expect: str  # "ok", "flagged" or "error": the row's status
    reason: str  # a word the reason must contain ("" for ok rows)
    file: str | None = None  # its file under audio/; None for manifest-only cases
    in_folder: bool = True  # whether the plain folder holds it (manifest-only cases cannot)


@dataclass(frozen=True)
class Corpus:
    root: Path
    audio: Path  # the plain folder: the good clips and every file case (plus a text file a scan must skip)
    manifest: Path  # good rows and every case, including manifest-only ones
    rows: tuple[Case | None, ...]  # what each manifest line is: a case, or None for a good row
    good_manifest: Path  # the good rows alone with the same ids: the run without the bad ones
    good_paths_manifest: Path  # the good files without ids: ids as a folder scan gives them
    cases: tuple[Case, ...]

    def folder_case(self, audio_filepath: str) -> Case | None:
        """The case a clip of the folder run belongs to (None for a good clip)."""
        return next((c for c in self.cases if c.file and audio_filepath == str((self.audio / c.file).resolve())), None)


def _speech() -> np.ndarray:
    return load_audio(DEMO_MANIFEST.parent / "clips" / SPEECH).samples


def _resampled(rate: int) -> Callable[[Path], None]:
    return lambda path: sf.write(path, soxr.resample(_speech(), SAMPLE_RATE, rate), rate)


def _wav(subtype: str) -> Callable[[Path], None]:
    return lambda path: sf.write(path, _speech(), SAMPLE_RATE, subtype=subtype)


def _samples(samples: np.ndarray, subtype: str = "PCM_16") -> Callable[[Path], None]:
    return lambda path: sf.write(path, samples, SAMPLE_RATE, subtype=subtype)


def _with_bad_values(value: float) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        samples = _speech().copy()
        samples[len(samples) // 2 :: 997] = value
        sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    return write


def _garbage_payload(path: Path) -> None:
    """A valid WAV header whose sample data are random bytes (decodes as full-band noise)."""
    sf.write(path, _speech(), SAMPLE_RATE, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    start = data.index(b"data") + 8
    data[start:] = np.random.default_rng(1).bytes(len(data) - start)
    path.write_bytes(bytes(data))


def _truncated(keep: int | float) -> Callable[[Path], None]:
    """The first `keep` bytes (int) or share of the file (float) of a valid WAV; the header claims the rest."""
    def write(path: Path) -> None:
        sf.write(path, _speech(), SAMPLE_RATE, subtype="PCM_16")
        data = path.read_bytes()
        path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    return write


def _flac_garbage_frames(path: Path) -> None:
    """FLAC's stream header intact, every audio frame replaced by random bytes."""
    sf.write(path.with_suffix(".tmp.flac"), _speech(), SAMPLE_RATE)
    header = path.with_suffix(".tmp.flac").read_bytes()[:42]  # fLaC + STREAMINFO
    path.with_suffix(".tmp.flac").unlink()
    path.write_bytes(header + np.random.default_rng(2).bytes(20_000))


def _text_file(path: Path) -> None:
    path.write_text("this is a text file named like audio\n" * 20)


def _stereo(path: Path) -> None:
    speech = _speech()
    sf.write(path, np.stack([speech, 0.7 * speech], axis=1), SAMPLE_RATE)


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.with_name("deleted-long-ago.wav"))


def _noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def _square(seconds: float = 1.5, freq: float = 200.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.sign(np.sin(2 * np.pi * freq * t)).astype(np.float32)


# name, expected status, a word of the reason, file name, writer
FILE_CASES: list[tuple[str, str, str, str, Callable[[Path], None]]] = [
    ("missing file (a dangling symlink in the folder)", "error", "not found", "missing.wav", _dangling_link),
    ("zero-byte file", "error", "empty", "zero-byte.wav", lambda p: p.write_bytes(b"")),
    ("truncated header (first 20 bytes of a WAV)", "error", "decode", "truncated-header.wav", _truncated(20)),
    ("corrupt header (a text file named .wav)", "error", "decode", "text-file.wav", _text_file),
    ("valid WAV header, random payload", "flagged", "", "garbage-payload.wav", _garbage_payload),
    ("valid FLAC header, garbage frames", "error", "no samples", "garbage-frames.flac", _flac_garbage_frames),
    ("truncated payload (header claims more samples)", "ok", "", "truncated-payload.wav", _truncated(0.6)),
    ("NaN samples", "error", "NaN", "nan.wav", _with_bad_values(np.nan)),
    ("infinite samples", "error", "infinite", "inf.wav", _with_bad_values(np.inf)),
    ("all-zero audio", "flagged", "silence", "all-zero.wav", _samples(np.zeros(SAMPLE_RATE, np.float32))),
    ("near-silent speech (-110 dBFS)", "flagged", "silent", "near-silent.wav",
     lambda p: sf.write(p, _speech() * 3e-5, SAMPLE_RATE, subtype="FLOAT")),
    ("clipped square wave", "flagged", "clipped", "square.wav", _samples(_square())),
    ("stereo", "ok", "", "stereo.wav", _stereo),
    ("8 kHz", "ok", "", "rate-8k.wav", _resampled(8000)),
    ("48 kHz", "ok", "", "rate-48k.wav", _resampled(48000)),
    ("24-bit WAV", "ok", "", "pcm24.wav", _wav("PCM_24")),
    ("float WAV", "ok", "", "float.wav", _wav("FLOAT")),
    ("mp3", "ok", "", "speech.mp3", lambda p: sf.write(p, _speech(), SAMPLE_RATE, format="MP3")),
    ("ogg vorbis", "ok", "", "speech.ogg", lambda p: sf.write(p, _speech(), SAMPLE_RATE, format="OGG")),
    ("flac", "ok", "", "speech.flac", lambda p: sf.write(p, _speech(), SAMPLE_RATE)),
    ("longer than 30 s", "flagged", "longer than 30", "long.wav", _samples(_noise(31, 0.05))),
    ("shorter than 0.1 s", "flagged", "shorter than", "short.wav", _samples(_speech()[:800])),
    ("non-speech noise", "flagged", "", "noise.wav", _samples(_noise(2, 0.1))),
    ("path with spaces and non-ASCII characters", "ok", "", NESTED,
     lambda p: shutil.copy(DEMO_MANIFEST.parent / "clips" / GOOD_CLIPS[1], p)),
]


def _manifest_cases(audio: Path, good_id: str) -> list[tuple[str, str, str, str | dict]]:
    """Rows only a manifest can hold: name, expected status, a word of the reason, the raw line or row."""
    speech = str(audio / "speech.flac")
    return [
        ("missing file", "error", "not found", {"audio_filepath": str(audio / "never-written.wav")}),
        ("a manifest line that is not JSON", "error", "not valid JSON", '{"audio_filepath": "speech.flac", '),
        ("a manifest line that is JSON but not an object", "error", "not a JSON object", '["speech.flac"]'),
        ("a row without audio_filepath", "error", "no audio_filepath", {"text": "orphan reference"}),
        ("a row pointing at a folder", "error", "a folder", {"audio_filepath": str(audio / "dir with spaces")}),
        ("a row pointing at /etc/passwd", "error", "decode", {"audio_filepath": "/etc/passwd"}),
        ("a relative audio_filepath", "ok", "", {"audio_filepath": f"audio/{GOOD_CLIPS[0]}"}),
        ("a non-numeric duration field", "ok", "", {"audio_filepath": speech, "duration": "three seconds"}),
        ("a duplicate id", "error", "duplicate id", {"audio_filepath": speech, "id": good_id}),
    ]


def write_corpus(root: Path) -> Corpus:
    """Write the corpus under `root` and describe it."""
    audio = (root / "audio").resolve()
    (audio / Path(NESTED).parent).mkdir(parents=True, exist_ok=True)
    references = {Path(r["audio_filepath"]).name: r.get("text") for r in map(json.loads, DEMO_MANIFEST.read_text().splitlines())}
    good = []
    for i, name in enumerate(GOOD_CLIPS):
        shutil.copy(DEMO_MANIFEST.parent / "clips" / name, audio / name)
        good.append({"audio_filepath": str(audio / name), "id": f"good-{i}", "text": references[name]})
    cases, lines = [], []
    for name, expect, reason, file, write in FILE_CASES:
        write(audio / file)
        cases.append(Case(name, expect, reason, file))
        lines.append({"audio_filepath": str(audio / file), "id": f"bad-{len(lines)}"})
    for name, expect, reason, row in _manifest_cases(audio, good[0]["id"]):
        cases.append(Case(name, expect, reason, in_folder=False))
        lines.append({"id": f"bad-{len(lines)}", **row} if isinstance(row, dict) else row)
    (audio / "notes.txt").write_text("not audio: a folder scan skips it\n")
    # good rows spread among the bad ones; the duplicate id (last) comes after its original
    spread = {0: good[0], 5: good[1], 17: good[2]}
    rows: list[Case | None] = []
    text = []
    for i, (case, line) in enumerate(zip(cases, lines)):
        if i in spread:
            rows.append(None)
            text.append(json.dumps(spread[i]))
        rows.append(case)
        text.append(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False))
    manifest, good_manifest, good_paths = root / "manifest.jsonl", root / "good.jsonl", root / "good-paths.jsonl"
    manifest.write_text("".join(t + "\n" for t in text), encoding="utf-8")
    good_manifest.write_text("".join(json.dumps(g) + "\n" for g in good))
    good_paths.write_text("".join(json.dumps({"audio_filepath": g["audio_filepath"]}) + "\n" for g in good))
    return Corpus(root, audio, manifest, tuple(rows), good_manifest, good_paths, tuple(cases))


TEACHER = TeacherOptions(window="fit", batch_size=1)  # the bad-input runs: fast, one clip a batch
OPTIONS = ScoreOptions(shard_size=8)
RELATIVE = ["combined_tuned"]  # ranks within the whole table: other rows move it by definition (combined is per clip)
Run = tuple[Summary, pd.DataFrame, np.ndarray]  # a scored run: its summary, table with paths, embeddings


def scored(source, root) -> Run:
    """Score `source` into workspace `root`: the summary, the table with paths, the embeddings."""
    summary = score(source, root, TEACHER, OPTIONS)
    ws = Workspace(root)
    return summary, ws.table(), np.load(ws.path(EMBEDDINGS) / "audio.npy")


def row_problem(row: pd.Series, case: Case) -> str | None:
    """Why a scored row does not end as its bad-input case expects (status, a short readable reason naming
    the problem, no label for an error); None when it does."""
    where = f"{case.name}: {row['status']} ({row['reason']!r})"
    reason = row["reason"]
    if row["status"] != case.expect:
        return where
    if case.expect == "ok":
        return None if reason == "" and len(row["pseudo_label"]) > 0 else where
    readable = reason and "\n" not in reason and len(reason) < 200 and "Traceback" not in reason
    if not readable or case.reason.lower() not in reason.lower():
        return where
    return where if case.expect == "error" and not pd.isna(row["pseudo_label"]) else None


def good_rows_difference(run: Run, reference: Run) -> str | None:
    """How the rows of `reference`'s clips in `run` differ from `reference`'s (dataset-relative columns aside),
    embeddings too; None when they are identical."""
    _, table, embeddings = run
    _, good, good_embeddings = reference
    rows = table["id"].isin(good["id"]).to_numpy()
    if not rows.sum() == len(good) > 0:
        return f"{rows.sum()} of the reference's {len(good)} clips are in the run"
    mine = table[rows].reset_index(drop=True).drop(columns=RELATIVE, errors="ignore")
    theirs = good.drop(columns=RELATIVE, errors="ignore")
    if list(mine.columns) != list(theirs.columns):
        return f"columns differ: {list(mine.columns)} vs {list(theirs.columns)}"
    differing = [c for c in mine.columns if not mine[c].equals(theirs[c])]
    if differing:
        return f"columns differ in value or type: {', '.join(differing)}"
    return None if np.array_equal(embeddings[rows], good_embeddings, equal_nan=True) else "embeddings differ"
