"""Teacher vs student, side by side: WER on labelled clips, decoding speed (RTFx), parameters.

Both models decode the same clips with the same batched CTranslate2 path as the teacher pass
(greedy, int8 on CPU, float16 on CUDA), so the speed ratio is the deployment one. Audio loading is
not timed. WER is corpus-level (errors over reference words, Whisper normalisation); the student is
also scored against the teacher's labels, which needs no reference.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.distill.jobs import STUDENT, STUDENT_CT2, language_models
from engine.io.audio import AudioError, load_audio, total_seconds
from engine.scores.reference_wer import wer
from engine.teacher import load_teacher
from engine.teacher.models import resolve_teacher_dir
from engine.teacher.options import TeacherOptions
from engine.text import normalize


def parameter_count(hf_dir: str | Path) -> int:
    """Parameters stored in a transformers folder's safetensors (a tied weight is stored once)."""
    from safetensors import safe_open

    total = 0
    for path in sorted(Path(hf_dir).glob("model*.safetensors")):  # the model's (an experts folder's base)
        with safe_open(str(path), "pt") as f:
            total += sum(int(np.prod(f.get_slice(name).get_shape())) for name in f.keys())
    return total


def corpus_wer(references: list[str], hypotheses: list[str], langs: list[str | None]) -> float | None:
    """Word errors over reference words (Whisper normalisation); None without a non-empty reference."""
    rates = wer(references, hypotheses, langs)
    words = np.array([len(normalize(r, lang).split()) for r, lang in zip(references, langs)], dtype=float)
    return float((rates * words).sum() / words.sum()) if words.sum() else None


@dataclass
class Transcripts:
    texts: list[str]
    seconds: float  # decoding time, audio loading and model loading excluded
    hit_limit: int  # transcripts cut at the token limit: almost always a repetition loop


def transcripts(ct2_dir: str | Path, waveforms: list[np.ndarray], langs: list[str | None],
                batch_size: int = 8, window: str = "full") -> Transcripts:
    """Greedy transcripts of `waveforms`, timed after one warm-up clip, in batches of similar length; the
    encoder sees the model's own window (a window student's shorter one) unless `window` says otherwise."""
    model = load_teacher(TeacherOptions(teacher=str(ct2_dir), batch_size=batch_size, window=window))
    model.run(waveforms[:1], langs[:1])
    order = sorted(range(len(waveforms)), key=lambda i: -len(waveforms[i]))
    texts: dict[int, str] = {}
    loops = 0
    started = time.perf_counter()
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        for i, out in zip(batch, model.run([waveforms[i] for i in batch], [langs[i] for i in batch])):
            texts[i], loops = out.text, loops + out.hit_limit
    return Transcripts([texts[i] for i in range(len(waveforms))], time.perf_counter() - started, loops)


def student_transcripts(run: Path, waveforms: list[np.ndarray], langs: list[str | None]) -> Transcripts:
    """`transcripts` of the run's student: in an experts run each clip by its language's model
    (student-ct2-<lang>), a clip of any other language by the shared one (student-ct2)."""
    models = language_models(run)
    groups: dict[Path, list[int]] = {}
    for i, lang in enumerate(langs):
        groups.setdefault(models.get(lang, run / STUDENT_CT2), []).append(i)
    texts, seconds, loops = [""] * len(waveforms), 0.0, 0
    for ct2_dir, rows in groups.items():
        result = transcripts(ct2_dir, [waveforms[i] for i in rows], [langs[i] for i in rows])
        for i, text in zip(rows, result.texts):
            texts[i] = text
        seconds, loops = seconds + result.seconds, loops + result.hit_limit
    return Transcripts(texts, seconds, loops)


def wer_by_language(references: list[str], hypotheses: list[str], langs: list[str | None]) -> dict[str, float | None]:
    """`corpus_wer` per language ("none" for clips without one)."""
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        groups.setdefault(lang or "none", []).append(i)
    return {lang: corpus_wer([references[i] for i in rows], [hypotheses[i] for i in rows], [langs[i] for i in rows])
            for lang, rows in sorted(groups.items())}


def transcribe(ct2_dir: str | Path, waveforms: list[np.ndarray], langs: list[str | None],
               batch_size: int = 8) -> tuple[list[str], float]:
    """(texts, seconds) of `transcripts`."""
    result = transcripts(ct2_dir, waveforms, langs, batch_size)
    return result.texts, result.seconds


def _model_facts(hf_dir: Path) -> dict:
    config = json.loads((hf_dir / "config.json").read_text())
    return {"parameters": parameter_count(hf_dir), "encoder_layers": config["encoder_layers"],
            "decoder_layers": config["decoder_layers"]}


def evaluate_run(run: str | Path, clips: pd.DataFrame, teacher: str | None = None) -> dict:
    """Teacher vs the run's student on `clips` (audio_filepath, lang, optional reference).

    Returns {"clips", "labelled_clips", "audio_seconds", "skipped", "models": {"teacher": {...},
    "student": {...}}, "speedup"}; each model has parameters, layers, wer (None without references) and
    wer_by_language, rtfx, seconds and hit_limit (transcripts cut at the token limit); the student also
    wer_vs_teacher, and in an experts run language_models (each clip decoded by its language's model).
    """
    from engine.teacher.convert import resolve_hf_dir

    run = Path(run)
    waveforms, kept, skipped = [], [], {}
    for i, row in enumerate(clips.itertuples()):
        try:
            waveforms.append(load_audio(row.audio_filepath).samples)
            kept.append(i)
        except AudioError as e:
            skipped[str(getattr(row, "id", row.audio_filepath))] = str(e)
    if not waveforms:
        raise ValueError("no clip to evaluate on could be read")
    clips = clips.iloc[kept]
    langs = [lang or None for lang in clips["lang"]] if "lang" in clips else [None] * len(clips)
    references = clips["reference"].tolist() if "reference" in clips else [None] * len(clips)
    labelled = [i for i, r in enumerate(references) if isinstance(r, str) and r.strip()]
    audio_seconds = total_seconds(waveforms)
    paths = {"teacher": (resolve_teacher_dir(teacher), resolve_hf_dir(teacher)),
             "student": (run / STUDENT_CT2, run / STUDENT)}
    results = {"teacher": transcripts(paths["teacher"][0], waveforms, langs),
               "student": student_transcripts(run, waveforms, langs)}
    labelled_refs, labelled_langs = [references[i] for i in labelled], [langs[i] for i in labelled]
    models, texts = {}, {}
    for name, (ct2_dir, hf_dir) in paths.items():
        result = results[name]
        texts[name] = result.texts
        hypotheses = [texts[name][i] for i in labelled]
        models[name] = {
            "path": str(ct2_dir), **_model_facts(Path(hf_dir)), "disk_mb": folder_megabytes(ct2_dir),
            "seconds": result.seconds,
            "rtfx": audio_seconds / result.seconds, "hit_limit": result.hit_limit,
            "wer": corpus_wer(labelled_refs, hypotheses, labelled_langs),
            "wer_by_language": wer_by_language(labelled_refs, hypotheses, labelled_langs),
        }
    if per_language := language_models(run):
        models["student"]["language_models"] = {lang: str(path) for lang, path in per_language.items()}
    models["student"]["wer_vs_teacher"] = corpus_wer(texts["teacher"], texts["student"], langs)
    return {"clips": len(waveforms), "labelled_clips": len(labelled), "audio_seconds": audio_seconds,
            "skipped": skipped, "models": models, "speedup": models["student"]["rtfx"] / models["teacher"]["rtfx"],
            "verdict": verdict(models["student"], len(waveforms))}


def verdict(student: dict, clips: int) -> str:
    """"usable", or why the student must not be shipped: any transcript that loops to the token limit."""
    if student["hit_limit"]:
        return (f"not usable: {student['hit_limit']} of {clips} transcripts loop to the token limit; "
                "train longer or on more clips")
    return "usable"


def folder_megabytes(folder: str | Path) -> float:
    """Size on disk of the files in `folder`, in MB."""
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file()) / 1e6


def manifest_clips(manifest: str | Path) -> pd.DataFrame:
    """A test manifest (anything `score` reads) as clips: id, audio_filepath, lang, reference."""
    import tempfile

    from engine.io.ingest import read_input

    with tempfile.TemporaryDirectory() as audio_dir:  # audio embedded in a HF dataset lands here
        clips = [c for c in read_input(manifest, audio_dir) if not c.problem]
        if any(c.audio_filepath.startswith(audio_dir) for c in clips):
            raise ValueError("evaluate on a manifest or folder of audio files, not a dataset with embedded audio")
    return pd.DataFrame({"id": [c.id for c in clips], "audio_filepath": [c.audio_filepath for c in clips],
                         "lang": [c.lang for c in clips], "reference": [c.text for c in clips]})


def format_table(report: dict) -> str:
    """The report as a Markdown table, teacher and student side by side."""
    teacher, student = report["models"]["teacher"], report["models"]["student"]

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f} %"

    lines = [
        "| | teacher | student |", "| --- | --- | --- |",
        f"| parameters | {teacher['parameters'] / 1e6:.1f} M | {student['parameters'] / 1e6:.1f} M |",
        f"| encoder / decoder layers | {teacher['encoder_layers']} / {teacher['decoder_layers']} "
        f"| {student['encoder_layers']} / {student['decoder_layers']} |",
        f"| WER ({report['labelled_clips']} labelled clips) | {pct(teacher['wer'])} | {pct(student['wer'])} |",
        f"| WER against the teacher's transcripts | – | {pct(student['wer_vs_teacher'])} |",
        f"| transcripts cut at the token limit (loops) | {teacher['hit_limit']} | {student['hit_limit']} |",
        f"| decoding RTFx ({report['audio_seconds']:.0f} s of audio) | {teacher['rtfx']:.1f} | {student['rtfx']:.1f} |",
    ]
    if "language_models" in student:  # an experts run: each language's clips decoded by its own model
        lines += [f"| WER, {lang} | {pct(teacher['wer_by_language'].get(lang))} | {pct(wer)} |"
                  for lang, wer in student["wer_by_language"].items()]
    if "disk_mb" in student:
        lines.append(f"| CTranslate2 model on disk | {teacher['disk_mb']:.0f} MB | {student['disk_mb']:.0f} MB |")
    if "verdict" in report:
        lines.append(f"\nStudent: {report['verdict']}.")
    return "\n".join(lines)
