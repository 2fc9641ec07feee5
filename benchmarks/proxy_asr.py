"""Which offline proxy ASR to trust: each candidate's own WER against the references, the AUROC of its
proxy_wer for "pseudo-label WER ≤ 20 %", its load time and per-clip cost, beside the teacher's
per-clip cost measured in the same run (a ratio that survives a busy machine).

    python benchmarks/proxy_asr.py WS [--proxies tiny.en,pocketsphinx] [--threads 2] [--markdown FILE]

WS: a scored workspace with references (e.g. the demo: `whisper-curator score assets/demo/manifest.jsonl
-w WS --add none`). Clips: English, labelled, with a reference.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import jiwer
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from engine.extras import ExtraOptions
from engine.extras.proxy import load_proxy, proxy_columns, proxy_texts
from engine.io.audio import load_audio
from engine.io.workspace import Workspace
from engine.scores import reference_wer
from engine.scoring.extras import scorable
from engine.teacher.ct2 import CT2Teacher
from engine.teacher.options import TeacherOptions
from engine.text import normalize

GOOD_WER = 0.2


def english_clips(ws: Workspace) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """English labelled rows with a reference, their reference text and audio."""
    table = scorable(ws.read_scores())
    clips = {c.id: c for c in ws.read_clips()}
    rows = table[(table["lang"] == "en") & table["wer"].notna()].copy()
    rows["reference"] = [clips[i].text for i in rows["id"]]
    return rows.reset_index(drop=True), [load_audio(clips[i].audio_filepath).samples for i in rows["id"]]


def batched_seconds_per_clip(run, samples: list[np.ndarray], batch_size: int) -> tuple[list, float]:
    """Results of `run` over batches, and its wall time per clip."""
    start, out = time.perf_counter(), []
    for s in range(0, len(samples), batch_size):
        out += run(samples[s : s + batch_size])
    return out, (time.perf_counter() - start) / len(samples)


def corpus_wer(references: list[str], hypotheses: list[str]) -> float:
    return jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses])


def measure(name: str, rows: pd.DataFrame, samples: list[np.ndarray], options: ExtraOptions) -> dict:
    start = time.perf_counter()
    proxy = load_proxy(name, ExtraOptions(threads=options.threads, batch_size=options.batch_size))
    load = time.perf_counter() - start
    langs = list(rows["lang"])
    texts, per_clip = batched_seconds_per_clip(
        lambda part: proxy_texts(proxy, part, ["en"] * len(part)), samples, options.batch_size)
    models = [proxy.name if t is not None else "" for t in texts]
    columns = proxy_columns(models, list(rows["pseudo_label"]), texts, langs)
    good = (rows["wer"] <= GOOD_WER).to_numpy()
    return {
        "proxy": name,
        "own_wer": corpus_wer(list(rows["reference"]), texts),
        "own_wer_mean": float(np.nanmean(reference_wer.wer(list(rows["reference"]), texts, langs))),
        "auroc_wer": roc_auc_score(good, -columns["proxy_wer"]),
        "auroc_cer": roc_auc_score(good, -columns["proxy_cer"]),
        "load_s": load,
        "s_per_clip": per_clip,
    }


def teacher_seconds_per_clip(samples: list[np.ndarray], options: ExtraOptions) -> float:
    teacher = CT2Teacher(TeacherOptions(threads=options.threads, batch_size=options.batch_size))
    return batched_seconds_per_clip(lambda part: teacher.run(part, ["en"] * len(part)), samples,
                                    options.batch_size)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", help="scored workspace with references")
    parser.add_argument("--proxies", default="tiny.en,pocketsphinx", help="comma-separated --proxy values")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per call")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    options = ExtraOptions(threads=args.threads, batch_size=args.batch_size)
    rows, samples = english_clips(Workspace(args.workspace))
    results = [measure(name, rows, samples, options) for name in args.proxies.split(",")]
    teacher = teacher_seconds_per_clip(samples, options)
    lines = [f"{len(rows)} English demo clips with references ({int((rows['wer'] <= GOOD_WER).sum())} labels with "
             f"WER ≤ {GOOD_WER:.0%}), {args.threads} threads; teacher (Whisper base) {teacher:.2f} s/clip in the same run",
             "", "| proxy | its WER vs references (corpus / mean per clip) | AUROC proxy_wer / proxy_cer "
             "for label WER ≤ 20 % | load | cost per clip | cost vs teacher |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['proxy']} | {r['own_wer']:.3f} / {r['own_wer_mean']:.3f} | {r['auroc_wer']:.3f} / "
              f"{r['auroc_cer']:.3f} | {r['load_s']:.1f} s | {r['s_per_clip']:.2f} s | {r['s_per_clip'] / teacher:.2f} |"
              for r in results]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        args.markdown.write_text(f"## Proxy ASR\n\n`python benchmarks/proxy_asr.py WS --proxies {args.proxies} "
                                 f"--threads {args.threads}`\n\n{report}\n")


if __name__ == "__main__":
    main()
