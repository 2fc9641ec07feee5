"""Language experts against fine-tuning and LoRA (issue #18): the same window student, kept set and budget.

    python benchmarks/experts.py --out DIR [--per-language 64] [--max-steps 150] [--report docs/experts.md]
    python benchmarks/experts.py --out DIR --smoke     # minutes: the same code on a tiny corpus

1. builds the German, French and English corpus (`benchmarks/experts_corpus.py`) unless DIR has it and
   labels its training side with the teacher (every clip the teacher pass did not flag is kept);
2. distils three students from the teacher with the same steps, learning rate and early stopping, all the
   teacher's layers at a 10 s encoder window (the CPU route: cached encoder outputs, the decoder trains):
   fine-tuned (every decoder weight), LoRA (adapters with as many trainable parameters as the experts,
   `engine.distill.lora.rank_for`) and experts (DistilWhisper's CLSR for de and fr, decoder layers);
3. decodes the test side (unseen sentences and voices) with the teacher, the untouched student (the teacher's
   weights at the 10 s window) and each student: the experts student by each clip's language model
   (student-ct2-<lang>/; English, which has no expert, by the shared model); CTranslate2 int8 on the CPU;
4. writes the report: per-language test WER, trainable and inference parameters, training time.
Every stage resumes: rerunning the command skips finished runs.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import experts_corpus  # noqa: E402
from engine.analysis.validate import markdown_table  # noqa: E402
from engine.distill.config import DistillConfig  # noqa: E402
from engine.distill.evaluate import corpus_wer, manifest_clips, transcripts  # noqa: E402
from engine.distill.jobs import LOG, METRICS, STUDENT, STUDENT_CT2, language_models  # noqa: E402
from engine.distill.train import distill  # noqa: E402
from engine.io.atomic import write_text_atomic  # noqa: E402
from engine.io.audio import load_audio  # noqa: E402
from engine.io.workspace import Workspace  # noqa: E402
from engine.scoring.pipeline import score_workspace  # noqa: E402
from engine.teacher.models import resolve_teacher_dir  # noqa: E402
from engine.teacher.options import TeacherOptions  # noqa: E402

SEED = 5  # the corpus's draws (none of the study's seeds)
TEST_VARIANTS = 2
TARGETS = ",".join(experts_corpus.TARGETS)
MAX_TOKENS = 225  # as the teacher's labels
SMOKE = {"per_language": 6, "max_steps": 2, "eval_every": 1, "variants": 1}


def labelled(out: Path, threads: int) -> Workspace:
    """The training side, labelled by the teacher (the teacher pass only: the kept set is every ok clip)."""
    ws = out / "ws"
    for line in score_workspace(out / "train" / "manifest.jsonl", ws, TeacherOptions(threads=threads), add="none",
                                make_map=False):
        print(f"  {line}", flush=True)
    return Workspace(ws)


def experts_trainable(teacher, languages: tuple[str, ...]) -> int:
    """Trainable parameters of the experts student of `teacher` on the CPU route (decoder experts for `languages`)."""
    from engine.distill.experts import ExpertOptions, add_experts, parameter_counts

    model = add_experts(copy.deepcopy(teacher), languages, ExpertOptions(stacks=("decoder",)))
    return parameter_counts(model)["trainable"]


def arms(budget: dict) -> dict[str, tuple[DistillConfig, int, int]]:
    """The three students, one budget: name → (options, trainable parameters on the CPU route, parameters at
    inference: the merged CTranslate2 model's, the teacher's count for all three)."""
    from transformers import WhisperForConditionalGeneration

    from engine.distill.lora import parameters_per_rank, rank_for
    from engine.distill.student import parameter_count
    from engine.teacher.convert import resolve_hf_dir

    teacher = WhisperForConditionalGeneration.from_pretrained(resolve_hf_dir(None))
    experts = experts_trainable(teacher, experts_corpus.TARGETS)
    rank = rank_for(teacher, experts)
    base = parameter_count(teacher)
    return {"fine-tuned": (DistillConfig(student="window", **budget), parameter_count(teacher.model.decoder), base),
            f"LoRA (rank {rank})": (DistillConfig(student="window", lora_rank=rank, **budget),
                                    rank * parameters_per_rank(teacher), base),
            "experts": (DistillConfig(student="experts", languages=TARGETS, **budget), experts, base)}


def trained(ws: Workspace, name: str, config: DistillConfig, trainable: int, inference: int) -> dict:
    """Distil (or resume) one student: its run folder, trainable parameters and training seconds."""
    run = ws.path("runs") / name.split(" ")[0].lower()
    result = distill(ws, config, run)
    print(f"  {name}: {result.line()}", flush=True)
    metrics = [json.loads(line) for line in (run / METRICS).read_text().splitlines()]
    return {"run": run, "steps": result.steps, "trainable": trainable, "inference": inference,
            "train_seconds": sum(m.get("seconds", 0.0) for m in metrics if "loss" in m)}


def models_per_language(runs: dict[str, dict]) -> dict[str, dict[str, tuple[Path, str]]]:
    """model name → language → (CTranslate2 folder, window) that decodes that language's clips."""
    teacher = resolve_teacher_dir(None)
    models = {"teacher": {lang: (teacher, "full") for lang in experts_corpus.LANGUAGES},
              "untouched student": {lang: (teacher, str(DistillConfig().window)) for lang in experts_corpus.LANGUAGES}}
    for name, run in runs.items():
        own = language_models(run["run"])  # an experts run's merge per language; the shared model for the others
        models[name] = {lang: (own.get(lang, run["run"] / STUDENT_CT2), "full") for lang in experts_corpus.LANGUAGES}
    return models


def test_wer(models: dict[str, dict[str, tuple[Path, str]]], clips: pd.DataFrame, saved: Path,
             experts_run: Path) -> pd.DataFrame:
    """Test WER per model (rows) and language (columns), every model on the same clips (read once) in one run;
    kept in `saved` (a CSV), so a rerun that trained nothing new only writes the report."""
    if saved.is_file():
        return pd.read_csv(saved, index_col="model", dtype={c: str for c in pd.read_csv(saved, nrows=0).columns
                                                             if c.endswith("loops")})
    audio = {path: load_audio(path).samples for path in clips["audio_filepath"]}
    rows = {SHARED: gated_wer(experts_run, clips, audio, shared=True), GATED: gated_wer(experts_run, clips, audio)}
    for name, per_language in models.items():
        rows[name] = {}
        for lang, (folder, window) in per_language.items():
            part = clips[clips["lang"] == lang]
            waveforms = [audio[p] for p in part["audio_filepath"]]
            result = transcripts(folder, waveforms, list(part["lang"]), window=window)
            rows[name][lang] = corpus_wer(list(part["reference"]), result.texts, list(part["lang"]))
            rows[name][f"{lang} loops"] = str(result.hit_limit)  # text: the table prints no decimals
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[name].items() if "loops" not in k), flush=True)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    table.to_csv(saved)
    return table


GATED = "experts, gated (transformers)"
SHARED = "untouched student (transformers)"  # the same decoding path as GATED, every gate on the frozen block


def gated_wer(run: Path, clips: pd.DataFrame, audio: dict[str, np.ndarray], shared: bool = False) -> dict[str, float]:
    """Test WER per language of the experts student as trained: transformers, each clip routed by its language,
    the hard evaluation gates choosing per token (what a per-language merge approximates), greedy; with `shared`
    every gate takes the frozen block, which is the untouched student on the same path."""
    import contextlib

    import torch
    from transformers import WhisperProcessor

    from engine.distill.data import FEATURES
    from engine.distill.experts import force_shared, load_experts, route_languages
    from engine.distill.greedy import greedy_tokens
    from engine.io.audio import SAMPLE_RATE

    model, processor = load_experts(run / STUDENT).eval(), WhisperProcessor.from_pretrained(run / STUDENT)
    tokenizer = processor.tokenizer
    ids = tokenizer.convert_tokens_to_ids
    out = {}
    for lang in experts_corpus.LANGUAGES:
        part = clips[clips["lang"] == lang]
        texts = []
        for path in part["audio_filepath"]:
            features = processor.feature_extractor(audio[path], sampling_rate=SAMPLE_RATE,
                                                   return_tensors="pt").input_features
            prompt = torch.tensor([[ids("<|startoftranscript|>"), ids(f"<|{lang}|>"), ids("<|transcribe|>"),
                                    ids("<|notimestamps|>")]])
            route_languages(model, [lang])
            with force_shared(model) if shared else contextlib.nullcontext():
                tokens = greedy_tokens(model, features, FEATURES, prompt, MAX_TOKENS, ids("<|endoftext|>"))[0]
            texts.append(tokenizer.decode(tokens, skip_special_tokens=True).strip())
        out[lang] = corpus_wer(list(part["reference"]), texts, list(part["lang"]))
    print(f"  {SHARED if shared else GATED}: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()), flush=True)
    return out


def run_notes(run: Path) -> list[str]:
    """What a run's log says about the student it kept: early stopping's choice, each language's merge."""
    keep = ("keeping step", "merged with the expert in")
    return [line.split(" ", 1)[1] for line in (run / LOG).read_text().splitlines() if any(k in line for k in keep)]


def report(command: str, wer: pd.DataFrame, runs: dict[str, dict], counts: dict) -> str:
    """The generated Markdown report."""
    params = pd.DataFrame({name: {"trainable (M)": r["trainable"] / 1e6, "inference (M)": r["inference"] / 1e6,
                                  "steps": str(r["steps"]),
                                  "train time (s)": r["train_seconds"]} for name, r in runs.items()}).T
    params.index.name = "student"
    targets = list(experts_corpus.TARGETS)
    students = [*runs, GATED]
    best = {lang: wer.loc[students, lang].astype(float).idxmin() for lang in targets}
    english = {"experts": wer.loc["experts", "en"] - wer.loc["untouched student", "en"],
               GATED: wer.loc[GATED, "en"] - wer.loc[SHARED, "en"]}  # each against the untouched on its own path
    lines = ["# Language experts vs fine-tuning and LoRA", "", f"Generated by `{command}`.", "",
             f"Training clips: {counts['train']} ({', '.join(f'{k} {v}' for k, v in counts['train_langs'].items())}); "
             f"test clips: {counts['test']} (sentences and voices not in training). Word error rate against the "
             "references (Whisper normalisation), greedy, CTranslate2 int8.", "",
             "## Test WER per language", "", markdown_table(wer), "",
             "## Training", "", markdown_table(params, 2), "",
             "Inference parameters are the merged CTranslate2 model's (LoRA folded in, experts merged per language). "
             "The experts student in transformers with its gates (`load_experts`) runs the shared model plus one "
             "language's experts and gates per clip.", "",
             "## Findings", ""]
    lines += [f"- {lang}: best student {best[lang]} ({wer.loc[best[lang], lang]:.3f}); the untouched student "
              f"{wer.loc['untouched student', lang]:.3f}; gated experts {wer.loc[GATED, lang]:.3f} against "
              f"{wer.loc[SHARED, lang]:.3f} untouched on the same transformers path" for lang in targets]
    lines += [f"- {lang}: gated experts {'beat' if all(wer.loc[GATED, lang] < wer.loc[n, lang] for n in runs if n != 'experts') else 'do not beat'} "
              f"both fine-tuning and LoRA" for lang in targets]
    lines += [f"- {name} run: {line}" for name, r in runs.items() for line in run_notes(r["run"])]
    lines.append("- English (no expert, must not get worse): " + ", ".join(
        f"{name} {diff * 100:+.1f} points" for name, diff in english.items()) + " against the untouched student on "
        "the same decoding path (goal: at most +1)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="corpus, workspace and runs (reused)")
    parser.add_argument("--per-language", type=int, default=64, help="training clips per language")
    parser.add_argument("--max-steps", type=int, default=150, help="optimiser steps per student")
    parser.add_argument("--eval-every", type=int, default=25, help="steps between held-out checks")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the teacher pass")
    parser.add_argument("--smoke", action="store_true", help="a tiny corpus and two steps: checks the code")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    options = {"per_language": args.per_language, "max_steps": args.max_steps, "eval_every": args.eval_every,
               "variants": TEST_VARIANTS} | (SMOKE if args.smoke else {})
    started = time.perf_counter()
    experts_corpus.build(args.out, options["per_language"], options["variants"], SEED)
    ws = labelled(args.out, args.threads)
    budget = {"max_steps": options["max_steps"], "eval_every": options["eval_every"],
              "checkpoint_every": options["eval_every"], "seed": 0, "evaluate": True}
    runs = {name: trained(ws, name, *arm) for name, arm in arms(budget).items()}
    clips = manifest_clips(args.out / "test" / "manifest.jsonl")
    key = "-".join(f"{k}{v}" for k, v in sorted(options.items()))  # a new budget or corpus decodes again
    wer = test_wer(models_per_language(runs), clips, args.out / f"test_wer-{key}.csv", runs["experts"]["run"])
    train = ws.read_clips()
    counts = {"train": len(train), "train_langs": pd.Series([c.lang for c in train]).value_counts().to_dict(),
              "test": len(clips)}
    command = "python benchmarks/experts.py --out DIR" + (" --smoke" if args.smoke else
                                                          f" --per-language {args.per_language} --max-steps {args.max_steps}")
    text = report(command, wer, runs, counts)
    print(text)
    print(f"in {time.perf_counter() - started:.0f} s")
    if args.report:
        write_text_atomic(args.report, text)


if __name__ == "__main__":
    main()
