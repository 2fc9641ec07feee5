"""The evidence study (issue #8): does label-free filtering work? One command, from nothing to a report.

    python benchmarks/study.py --out DIR [--size 300] [--steps 150] [--decoder-layers 4] [--retention 70] [--report docs/study.md]
    python benchmarks/study.py --out DIR --smoke      # a few minutes: the same code on a tiny corpus

1. builds the labelled corpus (benchmarks/study_corpus.py): a scoring pool with graded corruptions and a
   held-out clean test set with disjoint sentences and voices;
2. scores the pool with the teacher and every extra score group, then validates each score against the
   references (Spearman, AUROC for WER > 20 %, kept-set WER at 50/70/90 % retention);
3. distils one student per filter — all pseudo-labels, the label-free `combined` score, the best single
   label-free score, the reference-WER oracle — each the best `--retention` % of the labelled clips
   (all of them for the first) and the same number of steps;
4. transcribes the test set with the teacher and every student, and writes the report (tables and
   figures, generated) plus WS/reports/students.csv for the app's Evidence tab.
Every stage resumes: rerunning the command skips what is done.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_corpus  # noqa: E402

from engine.analysis.validate import (  # noqa: E402
    NO_FILTER, ORACLE, Validation, figures, markdown, markdown_table, validate, validate_workspace,
)
from engine.distill.evaluate import corpus_wer, manifest_clips, parameter_count, transcribe  # noqa: E402
from engine.distill.train import DistillConfig, distill  # noqa: E402
from engine.extras import extra_names
from engine.io.atomic import write_bytes_atomic, write_text_atomic  # noqa: E402
from engine.io.audio import load_audio, total_seconds  # noqa: E402
from engine.io.recipe import KeepBest, Recipe, kept_mask  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scoring.extras import add_scores
from engine.scoring.pipeline import score  # noqa: E402
from engine.teacher.convert import resolve_hf_dir  # noqa: E402
from engine.teacher.models import default_teacher_dir  # noqa: E402

STUDENTS_CSV = "reports/students.csv"  # read by the app's Evidence tab
SMOKE = {"size": 24, "pool_clips": 30, "steps": 1, "extras": "truncation", "test_clips": 2}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def student_recipes(validation: Validation, retention: float) -> dict[str, Recipe]:
    """One recipe per student: no filter, combined, the best single label-free score, the oracle."""
    label_free = validation.table.drop([ORACLE, NO_FILTER, "combined", "combined_tuned"], errors="ignore")
    best = str(label_free["auroc"].idxmax())
    keep = {"label-free combined": "combined", f"best single label-free ({best})": best, "WER oracle": "wer"}
    recipes = {"all pseudo-labels": Recipe(include_flagged=True)}
    recipes.update({name: Recipe(keep_best=KeepBest(column, retention), include_flagged=True)
                    for name, column in keep.items()})
    return recipes


def pool_manifest(corpus_dir: Path, clips: int, seed: int) -> Path:
    """The pool's manifest, or (`clips` above 0) one of a seeded sample of that many of its clips."""
    manifest = corpus_dir / "pool" / "manifest.jsonl"
    if clips <= 0:
        return manifest
    lines = manifest.read_text().splitlines()
    chosen = sorted(np.random.default_rng(seed).choice(len(lines), min(clips, len(lines)), replace=False))
    sample = manifest.with_name(f"manifest-{clips}.jsonl")  # beside it: audio paths may be relative
    write_text_atomic(sample, "".join(lines[i] + "\n" for i in chosen))
    return sample


def distilled(ws: Workspace, name: str, recipe: Recipe, steps: int, decoder_layers: int, seed: int) -> Path:
    """Distil (or resume) the student for one recipe; returns its run folder."""
    path = ws.path("reports") / "recipes" / f"{slug(name)}.yaml"
    write_text_atomic(path, recipe.to_yaml())
    config = DistillConfig(student="pruned", max_steps=steps, decoder_layers=decoder_layers, recipe=str(path), seed=seed,
                           evaluate=False, eval_every=max(1, steps // 5),  # the test set evaluates each student
                           checkpoint_every=max(1, steps // 5))
    run = ws.path("runs") / f"study-{slug(name)}"
    print(f"  {name}: {distill(ws, config, run).line()}", flush=True)
    return run


def test_wers(runs: dict[str, Path], test_manifest: Path, limit: int = 0) -> pd.DataFrame:
    """Held-out WER, parameters and decoding speed of the teacher and each student on the test set
    (its first `limit` clips when above 0)."""
    clips = manifest_clips(test_manifest)
    clips = clips.head(limit) if limit > 0 else clips
    waveforms = [load_audio(p).samples for p in clips["audio_filepath"]]
    langs, references = list(clips["lang"]), list(clips["reference"])
    audio = total_seconds(waveforms)
    models = {"teacher": (default_teacher_dir(), resolve_hf_dir(None)),
              **{name: (run / "student-ct2", run / "student") for name, run in runs.items()}}
    rows = []
    for name, (ct2, hf) in models.items():
        texts, seconds = transcribe(ct2, waveforms, langs)
        english = [i for i, lang in enumerate(langs) if lang == "en"]
        rows.append({"student": name, "wer": corpus_wer(references, texts, langs),
                     "wer_english": corpus_wer([references[i] for i in english], [texts[i] for i in english], ["en"] * len(english)),
                     "rtfx": audio / seconds, "parameters_m": parameter_count(hf) / 1e6,
                     "kept_clips": np.nan})
    return pd.DataFrame(rows)


def label_wer(rows: pd.DataFrame) -> float:
    """Duration-weighted WER of the pseudo-labels a student trains on (clips with a reference)."""
    rows = rows[rows["wer"].notna()]
    return float(np.average(rows["wer"], weights=rows["duration"])) if len(rows) else np.nan


def students_figure(students: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    bars = axis.bar(students["student"], students["wer_english"], color=["grey"] + ["tab:blue"] * (len(students) - 1))
    axis.bar_label(bars, fmt="%.3f", fontsize=8)
    axis.set_ylabel("held-out test WER (English clips)")
    axis.tick_params(axis="x", labelrotation=20, labelsize=8)
    axis.grid(axis="y", alpha=0.3)
    plt.close(figure)
    return figure


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def summary(validation: Validation, students: pd.DataFrame, retention: float) -> list[str]:
    """The report's findings, as sentences computed from the tables."""
    table, at = validation.table, f"kept_wer@{retention:.0f}%"
    label_free = table.drop([ORACLE, NO_FILTER], errors="ignore")
    lines = [f"- Best AUROC: **{label_free['auroc'].idxmax()}** ({label_free['auroc'].max():.3f}); the baseline "
             f"avg_logprob {table.loc['avg_logprob', 'auroc']:.3f}."]
    if at in table:
        best = label_free[at].idxmin()
        lines.append(f"- Lowest kept-set WER at {retention:.0f} % retention: **{best}** ({label_free.loc[best, at]:.3f}); "
                     f"combined {table.loc['combined', at]:.3f}, avg_logprob {table.loc['avg_logprob', at]:.3f}, "
                     f"no filter {table.loc[NO_FILTER, at]:.3f}, oracle {table.loc[ORACLE, at]:.3f}.")
    wers = students.set_index("student")["wer_english"]
    lines.append("- Students' English test WER: " + ", ".join(f"{name} {value:.3f}" for name, value in wers.items()) + ".")
    return lines


def report(command: str, corpus: dict, validation: Validation, validation_ok: Validation, students: pd.DataFrame,
           retention: float, steps: int, decoder_layers: int, timings: dict[str, float], figures_dir: Path) -> str:
    """docs/study.md: generated from this run, never edited by hand."""
    counts = pd.DataFrame(corpus["counts"]).fillna(0).astype(int).rename_axis("kind")
    table = students.set_index("student")
    lines = [
        "# Evidence study: does label-free filtering work?", "",
        f"Generated by `{command}` — do not edit; rerun the command.", "",
        "Teacher: Whisper base (CTranslate2 int8 for labels, the converted PyTorch weights for distillation), CPU. "
        f"Students: {decoder_layers} of the teacher's 6 decoder layers copied, frozen encoder, {steps} steps each, KD loss "
        "0.8·CE + 1.0·T²·KL (T = 2).", "",
        "## Findings", "", *summary(validation, students, retention), "",
        "## Corpus", "", markdown_table(counts, 0), "",
        "## Which scores find bad pseudo-labels (scoring pool, every clip)", "",
        "Every clip the teacher labelled, flagged ones included, so each score is judged alone.", "",
        markdown(validation), "",
        f"![ROC curves]({figures_dir.name}/roc.png) ![Retention vs kept-set WER]({figures_dir.name}/retention.png)", "",
        "## The same with flagged clips left out (the app's default recipe)", "",
        "Flagged: the teacher pass's input checks (silence, clipping, no speech, a label cut at the token limit).", "",
        markdown(validation_ok), "",
        f"## Students distilled on differently filtered data (best {retention:.0f} % kept, same steps)", "",
        "Test WER on the held-out test set (clean speech; sentences, voices and the real reader unseen in the pool). "
        "`wer` counts every test clip, `wer_english` the English ones; `kept_label_wer` is the duration-weighted "
        "reference WER of the pseudo-labels each student trained on.", "",
        markdown_table(table), "",
        f"![Student WERs]({figures_dir.name}/students.png)", "",
        "## Timings", "",
        "Seconds per stage on this machine (the run that did the work; a resumed stage keeps that time).", "",
        markdown_table(pd.DataFrame({"seconds": timings}).rename_axis("stage"), 0), "",
    ]
    return "\n".join(lines)


def evaluated(ws: Workspace, runs: dict[str, Path], test_manifest: Path, limit: int = 0) -> pd.DataFrame:
    """test_wers, or WS/reports/students.csv when it is newer than every student."""
    path = ws.path(STUDENTS_CSV)
    if path.is_file() and all((run / "student-ct2" / "model.bin").stat().st_mtime < path.stat().st_mtime
                              for run in runs.values()):
        students = pd.read_csv(path)
        if list(students["student"]) == ["teacher", *runs]:
            return students
    return test_wers(runs, test_manifest, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the corpus, workspace and runs (resumable)")
    parser.add_argument("--size", type=int, default=300, help="pool clips, roughly (300: about an hour on 2 cores)")
    parser.add_argument("--seed", type=int, default=study_corpus.DEFAULT_SEED, help="corpus and training seed")
    parser.add_argument("--steps", type=int, default=150, help="optimiser steps per student")
    parser.add_argument("--decoder-layers", type=int, default=4,
                        help="decoder layers each student copies from the teacher")
    parser.add_argument("--retention", type=float, default=70.0, help="percent of labelled clips each filter keeps")
    parser.add_argument("--extras", default="all", help="extra score groups to add (see `whisper-curator score --help`)")
    parser.add_argument("--pool-clips", type=int, default=0, help="score a seeded sample of N pool clips (0: all)")
    parser.add_argument("--test-clips", type=int, default=0, help="evaluate on the first N test clips (0: all)")
    parser.add_argument("--report", type=Path, default=None, help="write the Markdown report here (figures beside it)")
    parser.add_argument("--smoke", action="store_true", help=f"tiny run: {SMOKE}")
    args = parser.parse_args()
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    command = "python benchmarks/study.py " + " ".join(sys.argv[1:])

    timings_file = args.out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}

    def stage(name: str, started: float) -> None:
        seconds = time.perf_counter() - started
        print(f"[{name}] {seconds:.0f} s", flush=True)
        timings[name] = max(seconds, timings.get(name, 0.0))
        write_text_atomic(timings_file, json.dumps(timings, indent=1))

    started = time.perf_counter()
    corpus_dir = args.out / "corpus"
    built = corpus_dir / "corpus.json"
    if not built.is_file() or [json.loads(built.read_text())[k] for k in ("size", "seed")] != [args.size, args.seed]:
        study_corpus.build(corpus_dir, args.size, args.seed, study_corpus.cache_dir() / "downloads")
    corpus = json.loads(built.read_text())
    stage("corpus", started)

    started, ws = time.perf_counter(), Workspace(args.out / "ws")
    print(score(pool_manifest(corpus_dir, args.pool_clips, args.seed), ws.root).line(), flush=True)
    add_scores(ws.root, extra_names(args.extras))
    stage("scoring the pool", started)

    validation = validate_workspace(ws.root)
    print(validation.line(), flush=True)

    started = time.perf_counter()
    recipes = student_recipes(validation, args.retention)
    runs = {name: distilled(ws, name, recipe, args.steps, args.decoder_layers, args.seed) for name, recipe in recipes.items()}
    stage("distilling students", started)

    started = time.perf_counter()
    students = evaluated(ws, runs, corpus_dir / "test" / "manifest.jsonl", args.test_clips)
    table = ws.table()
    kept = [kept_mask(table, recipe) for recipe in recipes.values()]
    students["kept_clips"] = [np.nan] + [int(mask.sum()) for mask in kept]
    students["kept_label_wer"] = [np.nan] + [label_wer(table[mask]) for mask in kept]
    write_text_atomic(ws.path(STUDENTS_CSV), students.to_csv(index=False))
    stage("evaluating on the test set", started)
    print(markdown_table(students.set_index("student")), flush=True)

    if args.report:
        folder = args.report.with_suffix("")
        for name, figure in {**figures(validation), "students": students_figure(students)}.items():
            write_bytes_atomic(folder / f"{name}.png", png(figure))
        validation_ok = validate(ws.table().query("status == 'ok'"))
        write_text_atomic(args.report, report(command, corpus, validation, validation_ok, students, args.retention,
                                              args.steps, args.decoder_layers, timings, folder))
        print(f"report written to {args.report}")


if __name__ == "__main__":
    main()
