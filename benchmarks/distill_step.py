"""Distillation speed, in one run on the same clips: seconds per training step of the full route
(encoder trained on log-mel features) vs the cached route (frozen encoder, its outputs cached once),
and decoding speed of a distilled student vs its teacher.

    python benchmarks/distill_step.py [WS] [--run RUN] [--batch-size 4] [--steps 3]

WS defaults to the scored demo (scored on first use); RUN to WS's newest finished run.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine.distill.data import ENCODER, FEATURES, Pair, TeacherCache, cache_entries, fill_cache, kept_targets
from engine.distill.jobs import EVAL, STUDENT_CT2, list_runs
from engine.distill.train import DistillConfig, kd_loss, student_logits
from engine.io.workspace import Workspace


def seconds_per_step(student, batch, kind: str, steps: int) -> float:
    """Mean seconds of forward + loss + backward + AdamW step, after one warm-up step."""
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    config = DistillConfig()
    times = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        loss, _, _ = kd_loss(student_logits(student, batch, kind, "cpu"), batch, config)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    return float(np.mean(times[1:]))


def training_steps(ws: Workspace, batch_size: int, steps: int) -> dict[str, float]:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from engine.distill.student import student_from_teacher
    from engine.teacher.convert import hf_teacher_dir

    teacher_dir = hf_teacher_dir()
    processor = WhisperProcessor.from_pretrained(teacher_dir)
    teacher = WhisperForConditionalGeneration.from_pretrained(teacher_dir).eval()
    rows = kept_targets(ws).head(batch_size)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, freeze in ((FEATURES, False), (ENCODER, True)):
            student = student_from_teacher(teacher, 2).train()
            student.model.encoder.requires_grad_(not freeze)
            pair = Pair(teacher, student, (processor, processor), shares_encoder=True)
            entries, _ = cache_entries(rows, pair.tokenizers, (teacher.config, student.config))
            fill_cache(entries, Path(tmp) / kind, pair, 32, kind)
            cache = TeacherCache(Path(tmp) / kind, entries, kind)
            result[kind] = seconds_per_step(student, cache.batch(np.arange(len(cache))), kind, steps)
    return result


def decoding(ws: Workspace, run: Path) -> dict[str, tuple[float, int]]:
    """Model → (RTFx, transcripts cut at the token limit) on the workspace's ok clips."""
    from engine.distill.evaluate import transcripts
    from engine.io.audio import load_audio, total_seconds
    from engine.teacher.models import resolve_teacher_dir

    rows = ws.table().query("status == 'ok'")
    waveforms = [load_audio(p).samples for p in rows["audio_filepath"]]
    langs = rows["lang"].tolist()
    audio = total_seconds(waveforms)
    speed = {}
    for name, path in (("teacher", resolve_teacher_dir(None)), ("student", run / STUDENT_CT2)):
        result = transcripts(path, waveforms, langs)
        speed[name] = (audio / result.seconds, result.hit_limit)
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", nargs="?", default=None, help="scored workspace (default: the demo)")
    parser.add_argument("--run", default=None, help="finished distillation run (default: the workspace's newest)")
    parser.add_argument("--batch-size", type=int, default=4, help="clips per training step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per route (after one warm-up)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers loads: models come from packages only
    if args.workspace is None:
        from engine.demo import demo_workspace

        args.workspace = demo_workspace()
    ws = Workspace(args.workspace)
    finished = [r for r in list_runs(ws) if (r / EVAL).is_file()]
    run = Path(args.run) if args.run else (finished[0] if finished else None)

    step = training_steps(ws, args.batch_size, args.steps)
    print(f"training step, batch {args.batch_size}, {torch.get_num_threads()} threads:")
    print(f"  full (encoder trained, features in)  {step[FEATURES]:7.2f} s")
    print(f"  cached (frozen encoder outputs in)   {step[ENCODER]:7.2f} s")
    print(f"  cached step is {step[FEATURES] / step[ENCODER]:.1f}x faster (goal: at least 5x)")
    if run is None:
        print("decoding: no finished run in the workspace; run `whisper-curator distill` first")
        return
    (teacher, teacher_loops), (student, student_loops) = decoding(ws, run).values()
    print(f"decoding RTFx on {ws.root.name}'s ok clips (CTranslate2, greedy): teacher {teacher:.1f}, student "
          f"{student:.1f} ({run.name}): student {student / teacher:.2f}x the teacher; transcripts cut at the "
          f"token limit (repetition loops): teacher {teacher_loops}, student {student_loops}")


if __name__ == "__main__":
    main()
