"""What `--window fit` costs in label quality: the demo scored with Whisper's 30 s window and with a
fitted window, compared on WER, language ID and no-speech probability, with the wall time of each.

    python benchmarks/window_quality.py [--markdown docs/benchmarks.md]   (appends to the file)
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from engine.demo import DEMO_MANIFEST
from engine.io.workspace import Workspace
from engine.scoring.pipeline import score
from engine.teacher.options import TeacherOptions

SPEECH = ("real", "synthetic", "noise_snr5", "noise_snr0", "noise_snr-5", "clipped", "truncated", "babble")
NON_SPEECH = ("silence", "tones", "noise_only")


def scored_demo(window: str, folder: Path) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    score(DEMO_MANIFEST, folder / window, TeacherOptions(window=window))
    ws = Workspace(folder / window)
    kinds = pd.DataFrame([{"id": c.id, "kind": c.custom.get("kind"), "stated": c.lang} for c in ws.read_clips()])
    return ws.read_scores().merge(kinds, on="id"), time.perf_counter() - started


def quality(table: pd.DataFrame, seconds: float) -> dict[str, str]:
    speech = table[table["kind"].isin(SPEECH)]
    other = table[table["kind"] == "other_language"]
    return {
        "wall time (s)": f"{seconds:.0f}",
        "English speech: mean / median WER": f"{speech['wer'].mean():.3f} / {speech['wer'].median():.3f}",
        "other languages: language detected right": f"{(other['detected_lang'] == other['stated']).sum()}/{len(other)}",
        "real + synthetic English: detected as en": (lambda t: f"{(t['detected_lang'] == 'en').sum()}/{len(t)}")(
            table[table["kind"].isin(("real", "synthetic"))]),
        "non-speech: mean no_speech_prob": f"{table.loc[table['kind'].isin(NON_SPEECH), 'no_speech_prob'].mean():.2f}",
        "clean speech: mean no_speech_prob": f"{table.loc[table['kind'].isin(('real', 'synthetic')), 'no_speech_prob'].mean():.3f}",
        "labels identical to the full window's": "",
    }


def markdown_table(columns: dict[str, dict[str, str]]) -> str:
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for row in next(iter(columns.values())):
        lines.append(f"| {row} | " + " | ".join(columns[n][row] for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        full, full_s = scored_demo("full", Path(folder))
        fit, fit_s = scored_demo("fit", Path(folder))
    rows = {"full (default)": quality(full, full_s), "fit": quality(fit, fit_s)}
    labelled = full["pseudo_label"].notna()
    same = (full.loc[labelled, "pseudo_label"] == fit.loc[labelled, "pseudo_label"]).sum()
    rows["full (default)"]["labels identical to the full window's"] = "—"
    rows["fit"]["labels identical to the full window's"] = f"{same}/{labelled.sum()}"
    table = markdown_table(rows)
    report = (f"## Label quality of `--window fit`\n\n`python benchmarks/window_quality.py` on the demo "
              f"({len(full)} clips)\n\n{table}\n")
    print(report)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write("\n" + report)


if __name__ == "__main__":
    main()
