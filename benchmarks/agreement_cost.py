"""What the `agreement` group costs beside the teacher pass, on the same demo clips in one run.

    python benchmarks/agreement_cost.py [--clips 20] [--threads 1] [--batch-size 8] [--window full]
                                        [--agreement-window WINDOW] [--repeats 2]

Both are timed as `score` runs them, models loaded first: the teacher pass (`score_clips`: audio, VAD,
one encoder pass, language ID, greedy decoding, the scores) and then the group (`score_rows` with the
agreement scorer on the pass's labels: audio, one encoder pass, sampled decoding, the scores). The clips are
every third labelled demo clip (speech, noise, babble, other languages). Each is timed `--repeats` times,
alternating, and the fastest run counts: on a busy machine the ratio is noisy, the fastest runs least so.
Issue #17's goal: the group at most 0.5x the teacher pass. `score` gives the group the teacher pass's window;
`--agreement-window` times it at another (a library option, `ExtraOptions.window`), e.g. fit beside full.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from engine.demo import DEMO_MANIFEST
from engine.extras import ExtraOptions
from engine.extras.agreement import agreement_scorer
from engine.io.ingest import read_input
from engine.io.workspace import Clip
from engine.scoring.extras import score_rows
from engine.scoring.pipeline import score_clips
from engine.teacher.ct2 import CT2Teacher
from engine.teacher.options import TeacherOptions


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


def measure(clips: list[Clip], threads: int, batch_size: int, window: str, agreement_window: str, repeats: int) -> dict:
    teacher = CT2Teacher(TeacherOptions(threads=threads, batch_size=batch_size, window=window))
    scorer = agreement_scorer(ExtraOptions(threads=threads, batch_size=batch_size, window=agreement_window))
    paths = {c.id: c.audio_filepath for c in clips}
    teacher_s, agreement_s = [], []
    for _ in range(repeats):
        (table, _), seconds = timed(score_clips, clips, teacher, io_threads=1, batch_size=batch_size)
        teacher_s.append(seconds)
        rows = table[table["pseudo_label"].notna()].reset_index(drop=True)
        columns, seconds = timed(score_rows, rows, [paths[i] for i in rows["id"]], scorer, batch_size)
        agreement_s.append(seconds)
    values = pd.DataFrame({"label": rows["pseudo_label"], **columns})
    return {"clips": len(rows), "teacher_s": min(teacher_s), "agreement_s": min(agreement_s),
            "all_teacher_s": teacher_s, "all_agreement_s": agreement_s, "values": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="demo clips to time")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both (0 = all cores)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per batch, for both")
    parser.add_argument("--window", default="full", help="the teacher pass's encoder window")
    parser.add_argument("--agreement-window", default=None, help="the agreement group's (default: --window)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each; the fastest counts")
    args = parser.parse_args()
    agreement_window = args.agreement_window or args.window
    result = measure(benchmark_clips(args.clips), args.threads, args.batch_size, args.window, agreement_window,
                     args.repeats)
    print(result["values"].describe().round(3).to_string())
    n = result["clips"]
    print(f"teacher pass: {result['teacher_s']:.1f} s ({result['teacher_s'] / n:.2f} s/clip; runs "
          f"{', '.join(f'{s:.1f}' for s in result['all_teacher_s'])})")
    print(f"agreement:    {result['agreement_s']:.1f} s ({result['agreement_s'] / n:.2f} s/clip; runs "
          f"{', '.join(f'{s:.1f}' for s in result['all_agreement_s'])})")
    print(f"{n} clips, {args.threads} thread(s), window {args.window} (agreement {agreement_window}), "
          f"{ExtraOptions().samples} samples: "
          f"agreement / teacher pass = {result['agreement_s'] / result['teacher_s']:.2f}")


if __name__ == "__main__":
    main()
