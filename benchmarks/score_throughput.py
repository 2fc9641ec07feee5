"""Scoring throughput on the same clips, in one run: RTFx (seconds of audio per second of wall time).

  (a) faster-whisper plain transcription, one `transcribe` per file (greedy, language detection on)
  (b) the naive route: transformers ASR pipeline for the labels, then one more pass per score
      (teacher forcing for confidence/entropy, language ID, encoder embedding, VAD)
  (c) `whisper-curator score`: one encoder pass per clip feeds label, scores, language and embedding;
      (c-fit) the same with `--window fit` (encoder window fitted to the clip instead of 30 s)

    python benchmarks/score_throughput.py [--clips 24] [--threads 2] [--skip-naive]

faster-whisper 1.2.1 runs the encoder twice per file when it detects the language (once in
`detect_language`, once for the segment); (c) runs it once and batches decoding. Both pad every clip to
Whisper's 30 s window, which is most of the remaining cost: (c-fit) shortens it (see window_quality.py).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine.demo import DEMO_MANIFEST
from engine.io.audio import SAMPLE_RATE, load_audio
from engine.teacher.models import default_teacher_dir


def benchmark_clips(n: int) -> list[dict]:
    """The first n clean speech clips of the demo (1–16 s), with absolute paths."""
    rows = [json.loads(line) for line in DEMO_MANIFEST.read_text().splitlines()]
    chosen = [r for r in rows if r["kind"] in ("real", "synthetic")][:n]
    return [{**r, "audio_filepath": str(DEMO_MANIFEST.parent / r["audio_filepath"])} for r in chosen]


def faster_whisper_plain(clips: list[dict], threads: int) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(default_teacher_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
    for clip in clips:
        segments, _ = model.transcribe(load_audio(clip["audio_filepath"]).samples, beam_size=1, temperature=0.0,
                                       without_timestamps=True, condition_on_previous_text=False)
        list(segments)


def naive_route(clips: list[dict], threads: int) -> None:
    from faster_whisper.vad import get_speech_timestamps
    from transformers import WhisperForConditionalGeneration, WhisperProcessor, pipeline

    from engine.teacher.convert import hf_teacher_dir

    torch.set_num_threads(threads)
    folder = hf_teacher_dir()
    model = WhisperForConditionalGeneration.from_pretrained(folder)
    processor = WhisperProcessor.from_pretrained(folder)
    asr = pipeline("automatic-speech-recognition", model=model, tokenizer=processor.tokenizer,
                   feature_extractor=processor.feature_extractor, device="cpu")
    waveforms = [load_audio(c["audio_filepath"]).samples for c in clips]
    labels = [asr(w, generate_kwargs={"task": "transcribe"})["text"] for w in waveforms]  # pass 1: labels
    with torch.inference_mode():
        for waveform, label in zip(waveforms, labels):
            features = processor(waveform, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
            ids = processor.tokenizer(label, return_tensors="pt").input_ids
            logits = model(input_features=features, labels=ids).logits  # pass 2: confidence, entropy
            logits.log_softmax(-1).gather(-1, ids[..., None]).exp().mean()
            model.detect_language(features)  # pass 3: language ID
            model.model.encoder(features).last_hidden_state.mean(1)  # pass 4: embedding
            get_speech_timestamps(waveform)  # pass 5: speech ratio


def curator_score(clips: list[dict], threads: int, window: str = "full") -> None:
    from engine.scoring.pipeline import score
    from engine.teacher.options import TeacherOptions

    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / "manifest.jsonl"
        manifest.write_text("".join(json.dumps(c) + "\n" for c in clips))
        score(manifest, Path(folder) / "ws", TeacherOptions(threads=threads, window=window))


def curator_score_fit(clips: list[dict], threads: int) -> None:
    curator_score(clips, threads, window="fit")


def timed(run, clips: list[dict], threads: int) -> float:
    run(clips[:2], threads)  # warm-up: model load and first-call costs stay out of the figure
    started = time.perf_counter()
    run(clips, threads)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24, help="number of demo clips")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every route")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow naive route")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    clips = benchmark_clips(args.clips)
    audio = sum(load_audio(c["audio_filepath"]).duration for c in clips)
    routes = {"(a) faster-whisper transcribe": faster_whisper_plain, "(c) whisper-curator score": curator_score,
              "(c-fit) whisper-curator score --window fit": curator_score_fit}
    if not args.skip_naive:
        routes["(b) naive: HF pipeline + a pass per score"] = naive_route
    rtfx = {name: audio / timed(run, clips, args.threads) for name, run in routes.items()}
    lines = [f"{len(clips)} clips, {audio:.1f} s of audio, {args.threads} threads, Whisper base, CPU", "",
             "| route | RTFx |", "| --- | --- |"]
    lines += [f"| {name} | {value:.2f} |" for name, value in sorted(rtfx.items())]
    lines.append("")
    for ours in ("(c) whisper-curator score", "(c-fit) whisper-curator score --window fit"):
        lines.append(f"- {ours} / (a) = {rtfx[ours] / rtfx['(a) faster-whisper transcribe']:.2f} (target ≥ 1.5)")
        if not args.skip_naive:
            lines.append(f"- {ours} / (b) = {rtfx[ours] / rtfx['(b) naive: HF pipeline + a pass per score']:.2f}"
                         " (target ≥ 3)")
    report = "\n".join(lines)
    print("\n" + report)
    if args.markdown:
        args.markdown.write_text(f"## Scoring throughput\n\n`python benchmarks/score_throughput.py "
                                 f"--clips {args.clips} --threads {args.threads}`\n\n{report}\n")

if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
