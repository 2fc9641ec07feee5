"""What the `agreement` group costs beside the teacher pass, on the same demo clips in one run.

    python benchmarks/agreement_cost.py [--clips 20] [--threads 1] [--batch-size 8] [--window full]
                                        [--agreement-window WINDOW] [--repeats 2] [--markdown docs/benchmarks.md]

Timed as `score` runs them, models loaded first, on every third labelled demo clip (speech, noise, babble,
other languages):
- the teacher pass alone (`score_clips`: audio, VAD, one encoder pass, language ID, greedy decoding, scores);
- `score --add agreement`: the same pass sampling from its own encoder output, then the group's scores on those
  samples (`score_rows` given them); the group costs the difference;
- `--add agreement` on a workspace labelled earlier: the group alone, which encodes each batch once more.
Each is timed `--repeats` times, alternating, and the fastest run counts: on a busy machine the ratio is noisy,
the fastest runs least so. Issue #17's goal: the group at most 0.5x the teacher pass. `--agreement-window` times
the later group at another window (a library option, `ExtraOptions.window`), e.g. fit beside full. `--markdown`
rewrites this benchmark's section of the file.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.markdown import write_section  # noqa: E402
from engine.demo import DEMO_MANIFEST  # noqa: E402
from engine.extras import ExtraOptions  # noqa: E402
from engine.extras.agreement import agreement_scorer  # noqa: E402
from engine.io.ingest import read_input  # noqa: E402
from engine.io.workspace import Clip  # noqa: E402
from engine.scoring.extras import score_rows  # noqa: E402
from engine.scoring.pipeline import score_clips  # noqa: E402
from engine.teacher.ct2 import CT2Teacher  # noqa: E402
from engine.teacher.options import TeacherOptions  # noqa: E402

TITLE = "Agreement cost"
GOAL = 0.5  # issue #17: the group at most half the teacher pass


def benchmark_clips(n: int) -> list[Clip]:
    """Every third demo clip the teacher pass labels (readable, 0.1 to 30 s), the first n of them."""
    with tempfile.TemporaryDirectory() as audio_dir:
        clips = read_input(DEMO_MANIFEST, audio_dir)
    return [c for c in clips if not c.problem and c.custom.get("kind") not in ("corrupt", "empty", "long")][::3][:n]


def timed(run, *args, **kwargs) -> tuple[object, float]:
    """run(*args, **kwargs) and its wall time in seconds."""
    start = time.perf_counter()
    out = run(*args, **kwargs)
    return out, time.perf_counter() - start


def pass_with_agreement(clips: list[Clip], teacher: CT2Teacher, scorer, rows: pd.DataFrame, audio: list[str],
                        batch_size: int) -> dict:
    """`score --add agreement`: the teacher pass sampling, then the group's scores on its samples."""
    _, _, sampled = score_clips(clips, teacher, io_threads=1, batch_size=batch_size)
    return score_rows(rows, audio, scorer, batch_size, sampled=sampled)


def measure(clips: list[Clip], threads: int, batch_size: int, window: str, agreement_window: str, repeats: int) -> dict:
    options = TeacherOptions(threads=threads, batch_size=batch_size, window=window)
    teacher = CT2Teacher(options)
    sampling = CT2Teacher(replace(options, samples=ExtraOptions().samples))
    scorer = agreement_scorer(ExtraOptions(threads=threads, batch_size=batch_size, window=agreement_window))
    paths = {c.id: c.audio_filepath for c in clips}
    runs: dict[str, list[float]] = {"teacher": [], "in_pass": [], "later": []}
    for _ in range(repeats):
        (table, _, _), seconds = timed(score_clips, clips, teacher, io_threads=1, batch_size=batch_size)
        runs["teacher"].append(seconds)
        rows = table[table["pseudo_label"].notna()].reset_index(drop=True)
        audio = [paths[i] for i in rows["id"]]
        columns, seconds = timed(pass_with_agreement, clips, sampling, scorer, rows, audio, batch_size)
        runs["in_pass"].append(seconds)
        later, seconds = timed(score_rows, rows, audio, scorer, batch_size)
        runs["later"].append(seconds)
    best = {name: min(values) for name, values in runs.items()}
    return {"clips": len(rows), "best": best, "runs": runs,
            "values": pd.DataFrame({"label": rows["pseudo_label"], **columns}),
            "later_values": pd.DataFrame(later)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="demo clips to time")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both (0 = all cores)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per batch, for both")
    parser.add_argument("--window", default="full", help="the teacher pass's encoder window")
    parser.add_argument("--agreement-window", default=None, help="the agreement group's (default: --window)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each; the fastest counts")
    parser.add_argument("--markdown", type=Path, help="also write the report into this Markdown file's section")
    args = parser.parse_args()
    agreement_window = args.agreement_window or args.window
    result = measure(benchmark_clips(args.clips), args.threads, args.batch_size, args.window, agreement_window,
                     args.repeats)
    print("in the pass:\n" + result["values"].describe().round(3).to_string())
    print("added later:\n" + result["later_values"].describe().round(3).to_string())
    text = report(result, args)
    print(text)
    if args.markdown:
        write_section(args.markdown, TITLE, text)


def report(result: dict, args: argparse.Namespace) -> str:
    """The benchmark's Markdown section: its command, the times and the two ratios against the goal."""
    n, best = result["clips"], result["best"]
    in_pass = (best["in_pass"] - best["teacher"]) / best["teacher"]
    later = best["later"] / best["teacher"]
    lines = [f"`python benchmarks/agreement_cost.py --clips {args.clips} --threads {args.threads} --window "
             f"{args.window}`", "",
             f"{n} demo clips, {args.threads} thread(s), window {args.window}, {ExtraOptions().samples} samples, "
             f"Whisper base, CPU; fastest of {args.repeats} alternating runs", "",
             "| run | seconds | s/clip |", "| --- | --- | --- |"]
    for name, what in (("teacher", "teacher pass"), ("in_pass", "`score --add agreement` (pass samples, then the "
                                                                "group)"), ("later", "`--add agreement` later (group alone)")):
        lines.append(f"| {what} | {best[name]:.1f} | {best[name] / n:.2f} |")
    lines += ["", f"- agreement in the pass / teacher pass = {in_pass:.2f} (goal ≤ {GOAL})",
              f"- agreement added later / teacher pass = {later:.2f} (it encodes once more)"]
    return "\n".join(lines)

if __name__ == "__main__":
    main()
