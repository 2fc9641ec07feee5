"""The evidence study, v2 (issue #16): does curating pseudo-labels without references give a better
student than not curating? One command, from nothing to a report; every stage resumes.

    python benchmarks/study.py --out DIR [--report docs/study.md]
    python benchmarks/study.py --out DIR --smoke      # minutes: the same code on tiny corpora

1. Two corpora from benchmarks/study_corpus.py, disjoint in sentences, voices and speakers: the `dev`
   half (the calibration behind `combined` was fitted on it by benchmarks/calibrate.py, and the best
   single score is chosen on it) and the `test` half (every reported number).
2. Both pools scored by the teacher and EXTRAS; `combined` from the shipped calibration.
3. Two pools drawn from the test pool at LEVELS shares of labels with WER > 20 %.
4. Arms at equal retention: the recommended recipe keeps K clips (best 70 % of the ok ones by
   `combined`); no filter keeps K random ok clips; the best single label-free score and the
   reference-WER oracle keep their best K; all labels with flagged clips in is a reference row.
5. One student per arm and seed, the same configuration and steps (STUDENT), test WER per clip on the
   test corpus's held-out English clips; bootstrap intervals over clips and seeds, paired against no filter.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import study_corpus  # noqa: E402
from benchmarks.calibrate import referenced_scores  # noqa: E402
from benchmarks.study_stats import arm_intervals, contaminated_pool, kept_metrics  # noqa: E402
from engine.analysis.calibrate import MIN_GAIN  # noqa: E402
from engine.analysis.validate import NO_FILTER as UNFILTERED, ORACLE, validate  # noqa: E402
from engine.distill.config import DistillConfig  # noqa: E402
from engine.io.atomic import write_text_atomic  # noqa: E402
from engine.io.recipe import Recipe, kept_mask, recommended_recipe  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scores.combined import with_combined  # noqa: E402
from engine.scores.ranking import goodness  # noqa: E402
from engine.scores import higher_is_better  # noqa: E402
from engine.teacher.options import TeacherOptions  # noqa: E402

STUDENTS_CSV = "reports/students.csv"  # read by the app's Evidence tab
EXTRAS = "truncation,proxy,phoneme,align,lm"
LEVELS = (0.3, 0.6)  # shares of labels with WER > 20 % in the two study pools
SEEDS = (0, 1, 2)
NO_FILTER, RECOMMENDED, ORACLE_ARM, ALL_IN = ("no filter (flagged out)", "recommended (label-free)",
                                              "reference-WER oracle", "all labels, flagged in")


@dataclass(frozen=True)
class Corpus:
    part: str
    size: int
    seed: int


@dataclass(frozen=True)
class Plan:
    dev: Corpus = Corpus("dev", 300, 11)
    test: Corpus = Corpus("test", 880, 12)
    seeds: tuple[int, ...] = SEEDS
    levels: tuple[float, ...] = LEVELS
    steps: int = 120
    extras: str = EXTRAS
    test_clips: int = 0  # evaluate on the first N English test clips (0: all)
    teacher_window: str = "full"  # the teacher pass's encoder window (TeacherOptions.window): the product's default
    # the student: tiny.en at a 10 s window (docs/students.md), its frozen encoder's outputs cached; the
    # loss is chosen on the dev corpus among LOSSES (`chosen_loss`)
    student: DistillConfig = DistillConfig(student="smaller", window_seconds=10, lr=1e-5, heldout_fraction=0.0,
                                           patience=0, evaluate=False)


LOSSES = {"0.8·CE + 1.0·T²·KL": {"alpha_ce": 0.8, "alpha_kl": 1.0}, "CE only": {"alpha_ce": 1.0, "alpha_kl": 0.0}}


SMOKE = Plan(Corpus("dev", 40, 11), Corpus("test", 60, 12), seeds=(0,), levels=(0.6,), steps=1, extras="proxy",
             test_clips=4, teacher_window="fit")  # fit: the same code, a fraction of the encoder's time


def scored(out: Path, corpus: Corpus, extras: str, window: str) -> Workspace:
    """The corpus built and its pool scored with the teacher at encoder `window` and `extras` (both resume)."""
    from engine.extras import extra_names
    from engine.scoring.extras import add_scores
    from engine.scoring.pipeline import score

    folder = out / corpus.part / "corpus"
    built = folder / "corpus.json"
    if not built.is_file() or [json.loads(built.read_text()).get(k) for k in ("part", "size", "seed")] != [
            corpus.part, corpus.size, corpus.seed]:
        study_corpus.build(folder, corpus.size, corpus.seed, study_corpus.cache_dir() / "downloads", corpus.part)
    ws = Workspace(out / corpus.part / "ws")
    print(score(folder / "pool" / "manifest.jsonl", ws.root, TeacherOptions(window=window)).line(), flush=True)
    add_scores(ws.root, extra_names(extras))
    return ws


def needed_extras(columns: set[str], offered: str) -> str:
    """The groups of `offered` (an --add value) that write any of `columns`: the test pool needs only what
    the calibration and the best single score read."""
    from engine.extras import EXTRAS, extra_names

    return ",".join(n for n in extra_names(offered) if columns & set(EXTRAS[n].columns)) or "none"


def best_single_score(dev: pd.DataFrame) -> str:
    """The label-free score with the lowest kept-set WER at the recommended retention on the dev pool's ok clips."""
    table = validate(dev[dev["status"] == "ok"]).table.drop([ORACLE, UNFILTERED, "combined", "combined_tuned"], errors="ignore")
    return str(table[f"kept_wer@{recommended_recipe().keep_best.percent:.0f}%"].idxmin())


def top(rows: pd.DataFrame, column: str, k: int) -> list[str]:
    """Ids of the `k` best rows by `column` (its registry direction; missing values last)."""
    order = np.argsort(-goodness(rows[column], higher_is_better(column)).fillna(-1).to_numpy(), kind="stable")
    return rows["id"].iloc[order[:k]].tolist()


def arm_sets(pool: pd.DataFrame, best: str, seed: int, first_seed: bool = True) -> dict[str, list[str]]:
    """Each arm's kept clip ids in `pool`: all at the recommended recipe's count K, but the reference row
    (all labels, flagged in), which trains with the first seed only."""
    recommended = pool["id"][kept_mask(pool, recommended_recipe())].tolist()
    ok, k = pool[pool["status"] == "ok"], len(recommended)
    arms = {NO_FILTER: ok["id"].sample(k, random_state=seed).tolist(), RECOMMENDED: recommended,
            f"best single label-free ({best})": top(ok, best, k), ORACLE_ARM: top(ok, "wer", k)}
    return {**arms, ALL_IN: pool["id"].tolist()} if first_seed else arms


def exactly(ids: list[str], table: pd.DataFrame) -> Recipe:
    """A recipe that keeps exactly `ids` (flagged ones too): every other clip rejected by an override."""
    keep = set(ids)
    return Recipe(include_flagged=True, overrides={i: "reject" for i in table["id"] if i not in keep})


def slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def trained(ws: Workspace, name: str, recipe: Recipe, plan: Plan, seed: int) -> Path:
    """Distil (or resume) one student with `plan.student`; returns its run folder."""
    from engine.distill.train import distill

    path = ws.path("reports") / "recipes" / f"{name}.yaml"
    write_text_atomic(path, recipe.to_yaml())
    config = replace(plan.student, max_steps=plan.steps, recipe=str(path), seed=seed, checkpoint_every=max(1, plan.steps // 4))
    run = ws.path("runs") / f"study-{name}"
    print(f"  {name}: {distill(ws, config, run).line()}", flush=True)
    return run


def test_clips(corpus_dir: Path, limit: int) -> pd.DataFrame:
    """The test corpus's held-out English clips (the student is English-only): id, audio_filepath, reference."""
    from engine.distill.evaluate import manifest_clips

    clips = manifest_clips(corpus_dir / "test" / "manifest.jsonl")
    clips = clips[clips["lang"] == "en"].reset_index(drop=True)
    return clips.head(limit) if limit > 0 else clips


def clip_errors(model_dir: Path, clips: pd.DataFrame, cache: Path, window: str = "full") -> pd.DataFrame:
    """Per test clip: reference words, word errors and the greedy transcript of the CTranslate2 model in
    `model_dir` (at `window`); kept in `cache` (CSV) until the model changes."""
    weights = model_dir / "model.bin"
    if cache.is_file() and cache.stat().st_mtime > weights.stat().st_mtime:
        saved = pd.read_csv(cache, keep_default_na=False)
        if saved["id"].tolist() == clips["id"].tolist():
            return saved
    from engine.distill.evaluate import transcripts
    from engine.io.audio import load_audio
    from engine.scores.reference_wer import wer
    from engine.text import normalize

    langs = ["en"] * len(clips)
    result = transcripts(model_dir, [load_audio(p).samples for p in clips["audio_filepath"]], langs, window=window)
    words = np.array([len(normalize(r, "en").split()) for r in clips["reference"]], dtype=float)
    rates = wer(list(clips["reference"]), result.texts, langs).astype(float)
    frame = pd.DataFrame({"id": clips["id"], "words": words, "errors": np.round(rates * words), "text": result.texts,
                          "loops": result.hit_limit, "seconds": result.seconds})
    write_text_atomic(cache, frame.to_csv(index=False))
    return frame


def chosen_loss(ws: Workspace, table: pd.DataFrame, plan: Plan, clips: pd.DataFrame) -> tuple[Plan, pd.DataFrame]:
    """The plan with the loss of LOSSES whose student, trained on the dev pool's oracle kept set (the labels'
    quality out of the way), has the lower WER on the dev corpus's held-out clips; and the comparison."""
    ids = arm_sets(table[table["wer"].notna()], "wer", plan.seeds[0])[ORACLE_ARM]
    rows = []
    for name, weights in LOSSES.items():
        candidate = replace(plan, student=replace(plan.student, **weights))
        run = trained(ws, f"loss-{slug(name)}", exactly(ids, table), candidate, plan.seeds[0])
        frame = clip_errors(run / "student-ct2", clips, run / "test_clips.csv")
        rows.append({"loss": name, "dev_test_wer": frame["errors"].sum() / frame["words"].sum(), "plan": candidate})
    best = min(rows, key=lambda r: r["dev_test_wer"])
    from engine.teacher.models import tiny_en_dir

    untouched = clip_errors(tiny_en_dir(), clips, ws.path("reports") / "untouched-student.csv", str(plan.student.window))
    rows.append({"loss": "(untouched student, no training)", "dev_test_wer": untouched["errors"].sum() / untouched["words"].sum()})
    return best["plan"], pd.DataFrame(rows).drop(columns="plan").set_index("loss")


def reference_models(window: int) -> dict[str, tuple[Path, str]]:
    """Rows every arm is read against: the teacher and the untouched student at its `window` (CTranslate2
    folder, window)."""
    from engine.teacher.models import default_teacher_dir, tiny_en_dir

    return {"teacher": (default_teacher_dir(), "full"), f"untouched student (tiny.en at {window} s)": (tiny_en_dir(), str(window))}


@dataclass
class Level:
    """One contamination level: its pool, the arms' kept sets per seed and the students' test errors."""
    share: float
    pool: pd.DataFrame
    kept: dict[str, dict[int, list[str]]]  # arm → seed → ids
    errors: dict[str, np.ndarray]  # arm → (seeds, clips) word errors on the test clips


def level_name(share: float) -> str:
    return f"{share:.0%} bad labels"


def studied_level(ws: Workspace, table: pd.DataFrame, share: float, best: str, plan: Plan, clips: pd.DataFrame,
                  log) -> Level:
    """Draw the level's pool, train every arm's student per seed, read their test errors."""
    pool = contaminated_pool(table, share, plan.test.seed)
    kept: dict[str, dict[int, list[str]]] = {}
    errors: dict[str, list[np.ndarray]] = {}
    for seed in plan.seeds:
        for arm, ids in arm_sets(pool, best, seed, seed == plan.seeds[0]).items():
            kept.setdefault(arm, {})[seed] = ids
            name = f"{share * 100:.0f}-{slug(arm)}-s{seed}"
            run = trained(ws, name, exactly(ids, table), plan, seed)
            frame = clip_errors(run / "student-ct2", clips, run / "test_clips.csv")
            errors.setdefault(arm, []).append(frame["errors"].to_numpy())
            log(f"{level_name(share)}, {arm}, seed {seed}: test WER {frame['errors'].sum() / frame['words'].sum():.3f}")
    return Level(share, pool, kept, {arm: np.stack(e) for arm, e in errors.items()})


def students_table(levels: list[Level], words: np.ndarray, references: dict[str, float]) -> pd.DataFrame:
    """One row per level and arm: mean test WER with its interval, the paired difference against no
    filter with its interval, and the per-seed WERs; the reference models first."""
    rows = [{"level": "–", "student": name, "wer": wer} for name, wer in references.items()]
    for level in levels:
        wers, differences = arm_intervals(level.errors, words, NO_FILTER)
        for arm, interval in wers.items():
            difference = differences.get(arm)
            per_seed = level.errors[arm].sum(axis=1) / words.sum()
            rows.append({"level": level_name(level.share), "student": arm, "wer": interval.mean, "low": interval.low,
                         "high": interval.high, "vs_no_filter": difference.mean if difference else np.nan,
                         "vs_low": difference.low if difference else np.nan,
                         "vs_high": difference.high if difference else np.nan,
                         "seeds": " ".join(f"{w:.3f}" for w in per_seed)})
    return pd.DataFrame(rows)


def kept_table(levels: list[Level]) -> pd.DataFrame:
    """Label quality of each arm's kept set per level (seed 0's set; only no filter's differs by seed)."""
    rows = []
    for level in levels:
        pool = level.pool.set_index("id")
        for arm, sets in level.kept.items():
            rows.append({"level": level_name(level.share), "arm": arm, **kept_metrics(pool.loc[sets[min(sets)]])})
    return pd.DataFrame(rows)


def estimate_check(levels: list[Level]) -> pd.DataFrame:
    """The recommended score's estimated vs true kept-set WER (capped per clip) at 50/70/90 % of each pool's ok clips."""
    from engine.analysis.validate import RETENTIONS

    rows = []
    for level in levels:
        ok = level.pool[level.pool["status"] == "ok"]
        for retention in RETENTIONS:
            metrics = kept_metrics(ok.set_index("id").loc[top(ok, "combined", int(round(retention * len(ok))))])
            rows.append({"level": level_name(level.share), "retention": f"{retention:.0%}",
                         "true": metrics["capped_wer"], "estimated": metrics["estimated_capped_wer"],
                         "error": metrics["estimated_capped_wer"] - metrics["capped_wer"]})
    return pd.DataFrame(rows)


def findings(students: pd.DataFrame, kept: pd.DataFrame, estimates: pd.DataFrame, best: str) -> list[str]:
    """The report's findings, as sentences computed from the tables."""
    lines = []
    for level, rows in students[students["level"] != "–"].groupby("level", sort=False):
        rec = rows.set_index("student").loc[RECOMMENDED]
        verdict = ("better: the interval excludes zero in its favour" if rec["vs_high"] < 0 else
                   "worse: the interval excludes zero against it" if rec["vs_low"] > 0 else
                   "not distinguishable: the interval includes zero")
        lines.append(f"- **{level}**: the recommended recipe's student has test WER {rec['wer']:.3f} "
                     f"[{rec['low']:.3f}, {rec['high']:.3f}], no filter's "
                     f"{rows.set_index('student').loc[NO_FILTER, 'wer']:.3f}; paired difference "
                     f"{rec['vs_no_filter']:+.3f} [{rec['vs_low']:+.3f}, {rec['vs_high']:+.3f}] — {verdict}.")
    for level, rows in kept.groupby("level", sort=False):
        arms = rows.set_index("arm")
        ratio = arms.loc[RECOMMENDED, "wer"] / arms.loc[ORACLE_ARM, "wer"]
        lines.append(f"- {level}, kept sets: recommended WER {arms.loc[RECOMMENDED, 'wer']:.3f}, oracle "
                     f"{arms.loc[ORACLE_ARM, 'wer']:.3f} ({ratio:.2f}× the oracle's; goal ≤ 1.3×), no filter "
                     f"{arms.loc[NO_FILTER, 'wer']:.3f}.")
    worst = estimates.loc[estimates["error"].abs().idxmax()]
    lines.append(f"- Estimated kept-set WER: largest error {worst['error']:+.3f} ({worst['level']}, {worst['retention']} "
                 f"kept; goal within ±0.03 at 50/70/90 %).")
    lines.append(f"- Best single label-free score on the dev corpus: `{best}`.")
    return lines


def report(command: str, plan: Plan, counts: dict, students: pd.DataFrame, kept: pd.DataFrame, estimates: pd.DataFrame,
           best: str, losses: pd.DataFrame, timings: dict[str, float]) -> str:
    """docs/study.md: generated from this run, never edited by hand."""
    from engine.analysis.validate import markdown_table
    from engine.scores.calibration import shipped

    calibration = shipped()
    features = pd.DataFrame({"weight": {f.column: f.weight for f in calibration.features}}).rename_axis("score")
    corpus = pd.DataFrame({part: pd.Series(c["pool"]) for part, c in counts.items()}).fillna(0).astype(int).rename_axis("kind")
    s = plan.student
    lines = [
        "# Evidence study v2: does curating without references give a better student?", "",
        f"Generated by `{command}` — do not edit; rerun the command.", "",
        f"Teacher: Whisper base (CTranslate2 int8 labels), CPU. Students: {s.student} (tiny.en) at a {s.window} s window, "
        f"frozen encoder, {plan.steps} steps of batch {s.batch_size} at lr {s.lr:g}, loss {s.alpha_ce}·CE + {s.alpha_kl}·T²·KL "
        f"(T = {s.temperature:g}), no early stopping; seeds {', '.join(map(str, plan.seeds))}. Intervals: 95 % bootstrap over "
        "test clips and seeds; differences paired (same clips, same seed) against no filter.", "",
        "## Findings", "", *findings(students, kept, estimates, best), "",
        "## The loss, chosen on the dev corpus", "",
        "Students trained on the dev pool's oracle kept set, seed 0, the same steps; WER on the dev corpus's held-out "
        "English clips. The study uses the lower.", "", markdown_table(losses), "",
        "## Students (test WER on the test corpus's held-out English clips)", "",
        markdown_table(students.set_index("student")), "",
        "## Kept sets (label WER against the references)", "",
        "`wer`: duration-weighted; `capped_wer`: the same with each clip's WER capped at 1; `estimated_capped_wer`: "
        "the label-free estimate (1 − combined) of it; `over_1`: clips whose label has WER > 1 (loops, hallucinations).", "",
        markdown_table(kept.set_index("arm")), "",
        "## Estimated kept-set WER (recommended score, test pools)", "",
        markdown_table(estimates.set_index("level")), "",
        "## The calibration behind `combined`", "",
        f"Fitted by `{calibration.source.get('command', '?')}` on the {calibration.source.get('corpus', {})} corpus "
        f"({calibration.source.get('clips')} clips); chosen scores and weights:", "",
        markdown_table(features), "",
        "Forward selection, each round's best candidate (a score enters when it lowers the cross-validated kept-set "
        f"WER at 50/70/90 % by at least {MIN_GAIN:.0%}): " + "; ".join(
            f"{r['column']} {r['cv_kept_wer']:.4f} ({'entered' if r['entered'] else 'left out'})"
            for r in calibration.source.get("selection", [])) + ". Scores tried: "
        + ", ".join(f"`{c}`" for c in calibration.source.get("tried", [])) + ".", "",
        "## Corpora (pool clips by kind)", "", markdown_table(corpus, 0), "",
        "Truncated clips are left out of every label-WER number: their reference is the whole sentence, not what "
        "is still audible.", "",
        "## Timings", "", markdown_table(pd.DataFrame({"seconds": timings}).rename_axis("stage"), 0), "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the corpora, workspaces and runs (resumable)")
    parser.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--smoke", action="store_true", help="tiny corpora, two seeds, one step")
    args = parser.parse_args()
    plan = SMOKE if args.smoke else Plan()
    command = "python benchmarks/study.py " + " ".join(sys.argv[1:])
    timings_file = args.out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}

    def stage(name: str, started: float) -> None:
        timings[name] = max(time.perf_counter() - started, timings.get(name, 0.0))
        print(f"[{name}] {timings[name]:.0f} s", flush=True)
        write_text_atomic(timings_file, json.dumps(timings, indent=1))

    from engine.scores.calibration import shipped

    started = time.perf_counter()
    dev_ws = scored(args.out, plan.dev, plan.extras, plan.teacher_window)
    best = best_single_score(with_combined(referenced_scores(dev_ws)))
    needed = {f.column for f in shipped().features} | {best}
    ws = scored(args.out, plan.test, needed_extras(needed, plan.extras), plan.teacher_window)
    stage("corpora and scoring", started)
    table = with_combined(referenced_scores(ws))
    clips = test_clips(args.out / "test" / "corpus", plan.test_clips)
    started = time.perf_counter()
    plan, losses = chosen_loss(dev_ws, with_combined(referenced_scores(dev_ws)), plan,
                               test_clips(args.out / "dev" / "corpus", plan.test_clips))
    print(losses.to_string(), flush=True)
    stage("choosing the loss on the dev corpus", started)
    started = time.perf_counter()
    references = {name: clip_errors(Path(d), clips, args.out / f"reference-{slug(name)}.csv", w)
                  for name, (d, w) in reference_models(plan.student.window).items()}
    words = next(iter(references.values()))["words"].to_numpy()
    levels = [studied_level(ws, table, share, best, plan, clips, print) for share in plan.levels]
    stage("students", started)
    students = students_table(levels, words, {n: f["errors"].sum() / f["words"].sum() for n, f in references.items()})
    kept, estimates = kept_table(levels), estimate_check(levels)
    write_text_atomic(ws.path(STUDENTS_CSV), students.to_csv(index=False))
    print(students.to_string(), flush=True)
    if args.report:
        counts = {c.part: json.loads((args.out / c.part / "corpus" / "corpus.json").read_text())["counts"]
                  for c in (plan.dev, plan.test)}
        write_text_atomic(args.report, report(command, plan, counts, students, kept, estimates, best, losses, timings))
        print(f"report written to {args.report}")


if __name__ == "__main__":
    main()
