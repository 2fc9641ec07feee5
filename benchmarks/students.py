"""Students worth shipping (issue #15): each student kind and size distilled from the teacher on the same
kept set, then the teacher and every student decode the study corpus's English test set side by side.

    python benchmarks/students.py --out DIR [--size 300] [--report docs/students.md]
    python benchmarks/students.py --out DIR --smoke     # minutes: the same code on a tiny corpus

1. builds the study corpus (benchmarks/study_corpus.py) unless DIR holds it, and scores its pool with the
   teacher; the kept set is the app's default recipe (every clip the teacher pass did not flag);
2. distils every student in STUDENTS with the same budget and early stopping (held-out checks every
   `--eval-every` steps); a `smaller` English-only student trains on the English clips of that set;
3. decodes the English test clips (disjoint sentences and voices) with the teacher, untouched tiny.en, the
   teacher's untouched weights at a 10 s window and every student (a window student at its window):
   CTranslate2 int8 on the CPU with all cores (2 here), same clips, same run;
4. writes the report: parameters, size on disk, RTFx and speed-up over the teacher, test WER, looping
   transcripts, training time; the recommended student is chosen on the development side (held-out WER
   against the pseudo-labels, among students at least TARGET_SPEEDUP times faster), never on the test set.
Every stage resumes: rerunning the command skips finished runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_corpus  # noqa: E402
from study import slug  # noqa: E402

from engine.distill.config import FULL_WINDOW_SECONDS  # noqa: E402
from engine.distill.evaluate import corpus_wer, folder_megabytes, manifest_clips, parameter_count, transcripts  # noqa: E402
from engine.distill.jobs import METRICS, STUDENT, STUDENT_CT2  # noqa: E402
from engine.distill.student import student_source_dir  # noqa: E402
from engine.distill.train import DistillConfig, distill  # noqa: E402
from engine.io.atomic import write_text_atomic  # noqa: E402
from engine.io.audio import load_audio, total_seconds  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scoring.pipeline import score  # noqa: E402
from engine.teacher.convert import resolve_hf_dir  # noqa: E402
from engine.teacher.models import TINY_EN, default_teacher_dir, tiny_en_dir  # noqa: E402

STUDENTS = {  # name → DistillConfig options
    "pruned (2 decoder layers)": {"student": "pruned", "decoder_layers": 2},
    "pruned (4 decoder layers)": {"student": "pruned", "decoder_layers": 4},
    "smaller: tiny.en": {"student": "smaller"},
    "smaller: tiny.en (2 decoder layers)": {"student": "smaller", "decoder_layers": 2},
    "smaller: tiny.en (lr 1e-5)": {"student": "smaller", "lr": 1e-5},
    "window: base at 10 s": {"student": "window"},
    "window: base at 10 s (lr 1e-5)": {"student": "window", "lr": 1e-5},
    "window: base at 15 s": {"student": "window", "window_seconds": 15},
    "smaller: tiny.en at 10 s": {"student": "smaller", "window_seconds": 10},
}
UNTOUCHED_WINDOW = "10"  # the teacher's weights at this window, untrained, decode as a reference row
TARGET_SPEEDUP = 2.0  # the bar: at least this much faster than the teacher...
TARGET_WER_POINTS = 2.0  # ...at a test WER at most this many points above the teacher's
SMOKE = {"size": 24, "max_steps": 2, "eval_every": 1, "test_clips": 3,
         "students": ["pruned (2 decoder layers)", "smaller: tiny.en"]}


def budget(args: argparse.Namespace) -> dict:
    """The training budget every student gets."""
    return {"epochs": args.epochs, "max_steps": args.max_steps, "eval_every": args.eval_every,
            "patience": args.patience, "checkpoint_every": args.eval_every, "seed": args.seed, "evaluate": False}


def trained(ws: Workspace, name: str, options: dict, train: dict) -> dict:
    """Distil (or resume) one student; its run folder, training seconds and best held-out check."""
    run = ws.path("runs") / slug(name)
    started = time.perf_counter()
    result = distill(ws, DistillConfig(**options, **train), run)
    print(f"  {name}: {result.line()}", flush=True)
    metrics = [json.loads(line) for line in (run / METRICS).read_text().splitlines()]
    checks = [m for m in metrics if "eval_wer" in m]
    best = min(checks, key=lambda m: (m["eval_loops"], m["eval_wer"], m["eval_loss"])) if checks else {}
    return {"run": run, "train_seconds": sum(m.get("seconds", 0.0) for m in metrics if "loss" in m),
            "steps": result.steps, "best_step": best.get("step"), "heldout_wer": best.get("eval_wer"),
            "wall_seconds": time.perf_counter() - started}


def longer_than_windows(ws: Workspace, runs: dict[str, dict]) -> dict[int, int]:
    """{window seconds: kept clips longer than it} for the window students' windows (they train without them)."""
    windows = {DistillConfig(**STUDENTS[name]).window for name in runs} - {FULL_WINDOW_SECONDS}
    table = ws.table()
    kept = table.loc[table["status"] == "ok", "duration"]
    return {w: int((kept > w).sum()) for w in sorted(windows)}


def english_test_clips(corpus: Path, limit: int) -> pd.DataFrame:
    clips = manifest_clips(corpus / "test" / "manifest.jsonl")
    clips = clips[clips["lang"] == "en"]
    return clips.head(limit) if limit > 0 else clips


def decoded(models: dict[str, tuple], clips: pd.DataFrame) -> pd.DataFrame:
    """Each model's test WER, speed and loops on the same clips in one run (CTranslate2, greedy, int8 on CPU).
    `models`: name → (CTranslate2 folder, transformers folder[, window]); the window defaults to the model's own."""
    waveforms = [load_audio(p).samples for p in clips["audio_filepath"]]
    references, langs = list(clips["reference"]), ["en"] * len(clips)
    audio = total_seconds(waveforms)
    rows = []
    for name, (ct2, hf, *window) in models.items():
        result = transcripts(ct2, waveforms, langs, window=window[0] if window else "full")
        rows.append({"model": name, "parameters_m": parameter_count(hf) / 1e6, "disk_mb": folder_megabytes(ct2),
                     "rtfx": audio / result.seconds, "wer": corpus_wer(references, result.texts, langs),
                     "loops": result.hit_limit})
        print(f"  {name}: WER {rows[-1]['wer']:.3f}, RTFx {rows[-1]['rtfx']:.1f}", flush=True)
    table = pd.DataFrame(rows)
    table["speedup"] = table["rtfx"] / table.loc[table["model"] == "teacher", "rtfx"].iloc[0]
    return table


def recommended(table: pd.DataFrame) -> str | None:
    """The student with the lowest held-out WER against its labels (development data) among those at
    least TARGET_SPEEDUP times faster than the teacher and with no looping test transcript."""
    fast = table[(table["speedup"] >= TARGET_SPEEDUP) & (table["loops"] == 0) & table["heldout_wer"].notna()]
    return None if fast.empty else str(fast.loc[fast["heldout_wer"].idxmin(), "model"])


def report(table: pd.DataFrame, context: dict) -> str:
    """The generated Markdown report."""
    teacher = table[table["model"] == "teacher"].iloc[0]
    lines = ["# Students: kinds and sizes against the teacher", "",
             f"Generated by `python benchmarks/students.py {context['command']}`; do not edit by hand.", "",
             f"Kept set: the app's default recipe on the study pool ({context['kept']} clips; English-only students "
             f"train on its English part). Budget per student: {context['budget']}. Test: {context['test_clips']} "
             f"English clips of the study's held-out set ({context['test_seconds']:.0f} s; unseen sentences and "
             f"voices), decoded by CTranslate2 int8 greedy on {context['threads']} CPU threads, every model in "
             "the same run, each at its own encoder window: Whisper's 30 s, a window student's shorter one (the "
             f"test clips last {context['test_range']}). {window_line(context['longer'])}", "",
             "| model | parameters | on disk | RTFx | speed-up | test WER | loops | held-out WER vs labels | "
             "steps trained (kept) | train time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        heldout = "–" if pd.isna(row.heldout_wer) else f"{row.heldout_wer:.3f}"
        steps = "–" if pd.isna(row.steps) else f"{int(row.steps)} ({int(row.best_step)})"
        train = "–" if pd.isna(row.train_seconds) else f"{row.train_seconds / 60:.1f} min"
        lines.append(f"| {row.model} | {row.parameters_m:.1f} M | {row.disk_mb:.0f} MB | {row.rtfx:.1f} | "
                     f"{row.speedup:.2f}× | {row.wer:.3f} | {row.loops} | {heldout} | {steps} | {train} |")
    lines += ["", "Steps (kept): the step whose held-out check was best; 0 means training never beat the starting "
              "weights and the student ships as it started. RTFx moves with the machine's load: rows of the "
              "same model differ by that much.", "", *goal_lines(table, teacher)]
    return "\n".join(lines) + "\n"


def window_line(longer: dict[int, int]) -> str:
    """What a window student leaves out of the kept set."""
    if not longer:
        return ""
    counts = ", ".join(f"{n} at {w} s" for w, n in longer.items())
    return f"Window students train without the kept clips longer than their window ({counts})."


def goal_lines(table: pd.DataFrame, teacher) -> list[str]:
    """The issue's goal, checked on the recommended student."""
    choice = recommended(table)
    if choice is None:
        return [f"**Goal missed:** no student is {TARGET_SPEEDUP:.0f}× faster than the teacher without looping."]
    row = table[table["model"] == choice].iloc[0]
    gap = 100 * (row.wer - teacher.wer)
    met = gap <= TARGET_WER_POINTS
    return [f"Recommended (lowest held-out WER among students ≥ {TARGET_SPEEDUP:.0f}× faster, no loops): "
            f"**{choice}**, {row.speedup:.2f}× the teacher's speed, test WER {row.wer:.3f} against the teacher's "
            f"{teacher.wer:.3f} ({gap:+.1f} points).", "",
            f"Goal (≥ {TARGET_SPEEDUP:.0f}× faster, WER ≤ teacher + {TARGET_WER_POINTS:.0f} points, 0 loops): "
            + ("**met**." if met else f"**missed** by {gap - TARGET_WER_POINTS:.1f} WER points.")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the corpus, workspace and runs (resumable)")
    parser.add_argument("--corpus", type=Path, default=None, help="a study corpus already built (default: OUT/corpus)")
    parser.add_argument("--size", type=int, default=300, help="pool clips of a corpus built here")
    parser.add_argument("--seed", type=int, default=study_corpus.DEFAULT_SEED, help="corpus and training seed")
    parser.add_argument("--epochs", type=float, default=20.0, help="training budget in passes over the kept set")
    parser.add_argument("--max-steps", type=int, default=200, help="training budget cap in steps")
    parser.add_argument("--eval-every", type=int, default=25, help="steps between held-out checks")
    parser.add_argument("--patience", type=int, default=3, help="held-out checks without a better student before stopping")
    parser.add_argument("--students", default=";".join(STUDENTS), help="names from STUDENTS, separated by ;")
    parser.add_argument("--test-clips", type=int, default=0, help="decode the first N English test clips (0: all)")
    parser.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--smoke", action="store_true", help=f"tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:
        args.size, args.max_steps, args.eval_every, args.test_clips = (SMOKE[k] for k in ("size", "max_steps", "eval_every", "test_clips"))
        args.students = ";".join(SMOKE["students"])
    corpus = args.corpus or args.out / "corpus"
    if not (corpus / "corpus.json").is_file():
        study_corpus.build(corpus, args.size, args.seed, study_corpus.cache_dir() / "downloads")
    ws = Workspace(args.out / "ws")
    print(score(corpus / "pool" / "manifest.jsonl", ws.root).line(), flush=True)
    train = budget(args)
    runs = {name: trained(ws, name, STUDENTS[name], train) for name in args.students.split(";")}
    models = {"teacher": (default_teacher_dir(), resolve_hf_dir(None)),
              f"{TINY_EN} untouched": (tiny_en_dir(), student_source_dir(None)),
              f"teacher at {UNTOUCHED_WINDOW} s untouched": (default_teacher_dir(), resolve_hf_dir(None), UNTOUCHED_WINDOW),
              **{name: (r["run"] / STUDENT_CT2, r["run"] / STUDENT) for name, r in runs.items()}}
    clips = english_test_clips(corpus, args.test_clips)
    table = decoded(models, clips)
    extra = pd.DataFrame([{"model": name, **{k: v for k, v in r.items() if k != "run"}} for name, r in runs.items()])
    table = table.merge(extra, on="model", how="left")
    write_text_atomic(args.out / "students.csv", table.to_csv(index=False))
    durations = [load_audio(p).duration for p in clips["audio_filepath"]]
    context = {"command": " ".join(sys.argv[1:]), "kept": int((ws.table()["status"] == "ok").sum()),
               "budget": f"≤ {args.epochs:g} epochs, ≤ {args.max_steps} steps, batch 8, held-out check every "
                         f"{args.eval_every} steps, patience {args.patience}",
               "test_clips": len(clips), "test_seconds": float(sum(durations)),
               "test_range": f"{min(durations):.1f}–{max(durations):.1f} s",
               "threads": os.cpu_count(), "longer": longer_than_windows(ws, runs)}
    text = report(table, context)
    print(text)
    if args.report:
        write_text_atomic(args.report, text)


if __name__ == "__main__":
    main()
