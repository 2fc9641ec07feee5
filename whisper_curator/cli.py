"""`whisper-curator`: the command line. Each subcommand is glue around one library call."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from curator import HOST, PORT
from engine.analysis.mapping import FIT_ROWS, MAP_EMBEDDINGS
from engine.analysis.mapping import SEED as MAP_SEED
from engine.distill.config import (
    CHECKS_PER_RUN, GATE_BUDGET, PRECISIONS, STUDENT_KINDS, WINDOW_SECONDS, DistillConfig,
)
from engine.extras import EXTRAS, ExtraOptions
from engine.io.export import FORMATS
from engine.scoring.pipeline import ScoreOptions
from engine.scoring.prepare import cached_workspaces
from engine.teacher.options import BACKENDS, DEVICES, TASKS, WINDOWS, TeacherOptions


def _score(args: argparse.Namespace) -> None:
    from engine.io.workspace import Workspace
    from engine.scoring.pipeline import score_workspace

    workspace = args.workspace or (args.input if Workspace(args.input).exists else None)
    if workspace is None:
        raise ValueError(f"{args.input} is not a workspace; say where to write one with --workspace")
    rank, world = _rank_and_world(args)
    teacher = TeacherOptions(
        teacher=args.teacher, backend=args.backend, device=args.device, compute_type=args.compute_type, threads=args.threads,
        batch_size=args.batch_size, window=args.window, task=args.task, max_label_tokens=args.max_label_tokens,
    )
    options = ScoreOptions(shard_size=args.shard_size, num_shards=world, shard_index=rank)
    extra = ExtraOptions(device=args.device, threads=args.threads, batch_size=args.batch_size, proxy=args.proxy,
                         lm=args.lm, teacher=args.teacher, window=args.window, task=args.task)
    for line in score_workspace(args.input, workspace, teacher, options, args.add, extra, args.map):
        print(line)


def _rank_and_world(args: argparse.Namespace) -> tuple[int, int]:
    """--num-shards/--shard-index, else torchrun / accelerate's RANK and WORLD_SIZE, else 0/1."""
    if args.num_shards is not None:
        return args.shard_index, args.num_shards
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _merge(args: argparse.Namespace) -> None:
    from engine.scoring.pipeline import merge_workspace

    table = merge_workspace(args.workspace)
    print(f"merged {len(table)} clips into {args.workspace}/scores.parquet")


def _serve(args: argparse.Namespace) -> None:
    from curator.app import launch

    launch(args.input, host=args.host, port=args.port, auth=args.auth, insecure=args.insecure, workspace=args.workspace)


def _export(args: argparse.Namespace) -> None:
    from engine.io.export import export
    from engine.io.recipe import read_recipe
    from engine.io.workspace import Workspace

    ws = Workspace(args.workspace)
    ws.require_scores()
    recipe, _ = read_recipe(ws, args.recipe)
    print(export(ws, recipe, args.format, args.out).line())


def _map(args: argparse.Namespace) -> None:
    from engine.analysis.mapping import audio_map, mapped_line
    from engine.io.workspace import Workspace

    ws = Workspace(args.workspace)
    table = audio_map(ws, fit_rows=args.fit_rows, seed=args.seed, embedding=args.embedding)
    print(mapped_line(ws, table, args.embedding))


def _validate(args: argparse.Namespace) -> None:
    from engine.analysis.validate import REPORTS, markdown, validate_workspace

    validation = validate_workspace(args.workspace)
    print(markdown(validation))
    print(f"{validation.line()}; report in {args.workspace}/{REPORTS}/")


def distill_config(args: argparse.Namespace) -> DistillConfig:
    """The run's options: the --config file's, else the command line's."""
    from dataclasses import fields

    if args.config:
        return DistillConfig.from_yaml(open(args.config, encoding="utf-8").read())
    return DistillConfig(**{f.name: getattr(args, f.name) for f in fields(DistillConfig) if hasattr(args, f.name)})


def _distill(args: argparse.Namespace) -> None:
    from engine.distill.jobs import run_dir
    from engine.distill.train import distill
    from engine.io.progress import progress_bar
    from engine.io.workspace import Workspace

    ws = Workspace(args.workspace)
    config = distill_config(args)
    with progress_bar("distilling", unit="step") as progress:
        said: list[str] = []

        def on_step(info) -> None:
            if info.stage == "training":
                progress(info.step, info.max_steps)
            elif info.message and info.message.split(":")[0] not in said:
                said.append(info.message.split(":")[0])
                print(info.message)

        result = distill(ws, config, run_dir(ws, args.out), on_step=on_step)
    if int(os.environ.get("RANK", 0)) > 0:
        return  # under accelerate launch / torchrun the main process reports
    if result.eval:
        from engine.distill.evaluate import format_table

        print(format_table(result.eval))
    print(result.line())


def _eval(args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    from engine.distill.evaluate import evaluate_run, format_table, manifest_clips
    from engine.distill.jobs import CONFIG
    from engine.distill.train import DistillConfig
    from engine.io.atomic import write_text_atomic

    run = Path(args.run)
    if not (run / CONFIG).is_file():
        raise FileNotFoundError(f"{run} is not a distillation run (no {CONFIG})")
    teacher = DistillConfig.from_yaml((run / CONFIG).read_text()).teacher
    report = {**evaluate_run(run, manifest_clips(args.test), teacher), "split": f"test: {Path(args.test).resolve()}"}
    out = Path(args.out) if args.out else run / f"eval-{Path(args.test).stem}.json"
    write_text_atomic(out, json.dumps(report, indent=1))
    print(format_table(report))
    print(f"evaluated teacher and student on {report['clips']} clips; report in {out}")


def _demo(args: argparse.Namespace) -> None:
    from curator.app import launch
    from engine.demo import demo_input

    source, workspace = demo_input(args.workspace)
    launch(source, host=args.host, port=args.port, workspace=workspace)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whisper-curator",
        description="Pseudo-label audio with a Whisper teacher, score the labels, curate, distill.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_score, _add_merge, _add_serve, _add_export, _add_map, _add_validate, _add_distill, _add_eval,
                _add_demo):
        add(commands)
    return parser


def _add_score(commands) -> None:
    score = _command(commands, "score", _score, "Transcribe INPUT with the teacher and score every clip into a "
                     "workspace; give a scored workspace as INPUT to resume it or --add scores to it.")
    score.add_argument("input", help="a folder of audio files (wav/flac/mp3/ogg), a NeMo JSONL manifest "
                       "(audio_filepath, duration, optional text and lang), a CSV with those columns, "
                       "or a Hugging Face dataset saved with save_to_disk")
    score.add_argument("--workspace", "-w", default=None, help="workspace folder to create or resume "
                       "(default: INPUT, when INPUT is a workspace)")
    score.add_argument("--add", default="default", help="extra score groups, comma-separated: "
                       f"{', '.join(f'{n} ({e.help})' for n, e in EXTRAS.items())}; or default "
                       f"({','.join(n for n, e in EXTRAS.items() if e.default)}), all, none")
    extra = _options(score, ExtraOptions())
    extra("proxy", help="proxy ASR for the proxy scores, or several joined by ';' (each clip goes to the first that "
          "reads its language): tiny.en (the bundled Whisper tiny.en, English clips only), pocketsphinx (English), "
          "vosk-ko (Korean; pip install 'whisper-curator[korean]'), vosk:FOLDER=LANG (a Vosk model), or a "
          "transformers ASR model id or folder (a multilingual Whisper reads each clip's language; add =en,de to "
          "list what another model reads)")
    extra("lm", help="causal language model for lm_nll: a transformers model id or folder, or a .gguf file; "
          "default: the bundled Gemma-3 270M")
    score.add_argument("--map", action=argparse.BooleanOptionalAction, default=True, help="then place every "
                       "clip by its audio embedding for the app's Map tab (embeddings/map.parquet), unless the map "
                       "there already has the same clips")
    _add_teacher_options(score)
    shards = _options(score, ScoreOptions())
    shards("shard_size", type=int, help="clips per shard (the unit of resumption)")
    score.add_argument("--num-shards", type=int, default=None, help="number of processes scoring this workspace "
                       "(default: WORLD_SIZE from torchrun/accelerate, else 1)")
    shards("shard_index", type=int, help="which of --num-shards this process takes")


def _add_teacher_options(score: argparse.ArgumentParser) -> None:
    teacher = _options(score, TeacherOptions())
    teacher("teacher", help="CTranslate2 folder, Hugging Face folder or hub id; default: the bundled Whisper base "
            "(--add agreement re-decodes with it, --window and --task: give the ones the workspace was labelled with)")
    teacher("backend", choices=BACKENDS, help="ct2: CTranslate2, fastest (int8 on CPU); torch: transformers, for "
            "any HF Whisper (bf16/fp16 on CUDA)")
    teacher("device", choices=DEVICES, help="where the teacher and the extra scores run")
    teacher("compute_type", help="ct2: int8, float16, float32...; torch: float32, float16, bfloat16; auto = int8 "
            "(ct2) / float32 (torch) on CPU, float16 / bf16 on CUDA")
    teacher("threads", type=int, help="CPU threads for the teacher and the extra scores (0 = all cores)")
    teacher("batch_size", type=int, help="clips per teacher batch")
    teacher("window", help=f"{' or '.join(WINDOWS)} or seconds: full: the model's own window (Whisper's 30 s); fit: a "
            "window fitted to each batch's longest clip (≥ 10 s, ≥ 5 s of trailing silence), about 3x faster on short "
            "clips; labels may differ slightly (docs/benchmarks.md); a number: that many seconds (longer clips are cut)")
    teacher("task", choices=TASKS, help="Whisper task")
    teacher("max_label_tokens", type=int, help="longest pseudo-label in tokens")


def _add_merge(commands) -> None:
    merge = _command(commands, "merge", _merge, "Combine the shards written by several `score` processes "
                     "(each with --num-shards/--shard-index) into scores.parquet.")
    merge.add_argument("workspace", help="workspace folder the ranks scored into")


def _add_serve(commands) -> None:
    serve = _command(commands, "serve", _serve, "Open the curation app in the browser on a workspace, or on any "
                     "input `score` takes: that is scored first (resuming), with its progress on the page.")
    serve.add_argument("input", help="a workspace folder written by `score`, or an audio folder, a NeMo JSONL "
                       "manifest, a CSV or a saved Hugging Face dataset")
    serve.add_argument("--workspace", "-w", default=None, help="where to score an INPUT that is not a workspace "
                       f"(default: a folder named after INPUT in {str(cached_workspaces()).replace('%', '%%')})")
    serve.add_argument("--host", default=HOST, help="address to bind; one other than this machine "
                       "needs --auth or --insecure")
    serve.add_argument("--port", type=int, default=PORT, help="port to bind")
    serve.add_argument("--auth", default=None, metavar="USER:PASS", help="require this login")
    serve.add_argument("--insecure", action="store_true", help="allow a --host other than this machine without "
                       "--auth (anyone who can reach the port can read the workspace and change its recipe)")


def _add_export(commands) -> None:
    export = _command(commands, "export", _export, "Write the clips a recipe keeps as a NeMo manifest or a "
                      "Hugging Face dataset.")
    export.add_argument("workspace", help="workspace folder written by `score`")
    export.add_argument("--recipe", default=None, help="recipe YAML (default: WORKSPACE/recipe.yaml as saved by "
                        "the app, or, without one, every clip with status ok)")
    export.add_argument("--format", required=True, choices=FORMATS, help="nemo: manifest.jsonl "
                        "(audio_filepath, duration, text = pseudo-label, lang, id, reference); hf: a datasets "
                        "folder for load_from_disk (audio, text, lang, duration, id)")
    export.add_argument("--out", required=True, help="folder to write; replaced as a whole when it holds an "
                        "earlier export, refused when it holds anything else")


def _add_map(commands) -> None:
    map_ = _command(commands, "map", _map, "Place every clip in 2-D by its teacher audio embedding (UMAP) "
                    "for the app's Map tab.")
    map_.add_argument("workspace", help="workspace folder written by `score`")
    map_.add_argument("--fit-rows", type=int, default=FIT_ROWS, help="clips sampled to fit UMAP; the rest are "
                      "transformed into the fitted map")
    map_.add_argument("--seed", type=int, default=MAP_SEED, help="random seed for the sample and UMAP")
    map_.add_argument("--embedding", default="audio", choices=list(MAP_EMBEDDINGS), help="place clips by the "
                      "teacher's audio embedding, by their label's text embedding (needs `score --add text`), or both")


def _add_validate(commands) -> None:
    validate = _command(commands, "validate", _validate, "Check every label-free score against the references a "
                        "workspace has: Spearman vs WER, AUROC for WER > 20 %, kept-set WER at 50/70/90 % "
                        "retention; writes a table and figures to WORKSPACE/reports/.")
    validate.add_argument("workspace", help="scored workspace whose manifest has reference texts on some clips")


def _add_distill(commands) -> None:
    distill = _command(commands, "distill", _distill, "Train a smaller student from the teacher on the clips the "
                       "recipe keeps (knowledge distillation); rerun the same command to resume.")
    distill.add_argument("workspace", help="scored workspace; its recipe.yaml decides which clips train the student")
    distill.add_argument("--out", default="student", help="run name (a folder in WORKSPACE/runs) or a path")
    distill.add_argument("--config", default=None, help="options from a YAML file (a run's config.yaml); "
                         "the options below are then ignored")
    option = _options(distill, DistillConfig())
    for name, kwargs in DISTILL_OPTIONS.items():
        option(name, **kwargs)


DISTILL_OPTIONS = {  # DistillConfig field → its --option's argparse settings (the default comes from DistillConfig)
    "student": {"choices": STUDENT_KINDS, "help": "pruned: the teacher with fewer layers; smaller: a smaller "
                "pretrained Whisper (--student-model) distilled from the teacher; window: the teacher's layers with a "
                "shorter encoder window (--window-seconds); experts: window with DistilWhisper's language experts "
                "(--languages), only the experts and their gates train"},
    "student_model": {"help": "smaller: tiny.en (the bundled Whisper tiny.en, English clips only), a transformers "
                      "Whisper id or folder, or a CTranslate2 folder; default: tiny.en"},
    "decoder_layers": {"type": int, "help": "student decoder layers, copied from evenly spaced layers of the teacher "
                       "(pruned: default 2 = the first and the last; window: default all) or of the smaller model "
                       "(default: all)"},
    "encoder_layers": {"type": int, "help": "student encoder layers (default: all)"},
    "window_seconds": {"type": int, "help": f"the student's encoder window in seconds, any kind (default: "
                       f"{WINDOW_SECONDS} for window, else Whisper's 30); longer clips are skipped, shorter ones decode "
                       "faster"},
    "languages": {"help": "experts: comma list of target languages, one expert each (e.g. de,fr); each clip is "
                  "routed by its language; writes student-ct2-LANG per language, student-ct2 for the others"},
    "gate_budget": {"type": float, "help": "experts: the mean gate value (share of tokens through the experts) "
                    f"the budget loss aims at (default: {GATE_BUDGET}, the reference's)"},
    "lora_rank": {"type": int, "help": "train LoRA adapters of this rank on the decoder's attention and feed-forward "
                  "layers instead of its weights (merged into the saved student); not with experts"},
    "epochs": {"type": float, "help": "passes over the training clips"},
    "max_steps": {"type": int, "help": "optimiser steps; overrides --epochs"},
    "batch_size": {"type": int, "help": "clips per micro-batch and process"},
    "grad_accum": {"type": int, "help": "micro-batches per optimiser step"},
    "lr": {"type": float, "help": "peak AdamW learning rate (warmup, then linear decay)"},
    "alpha_ce": {"type": float, "help": "weight of cross-entropy on the pseudo-labels"},
    "alpha_kl": {"type": float, "help": "weight of KL(teacher || student)"},
    "temperature": {"type": float, "help": "softmax temperature of the KL term"},
    "topk": {"type": int, "help": "teacher logits cached per token for the KL term"},
    "freeze_encoder": {"action": argparse.BooleanOptionalAction, "help": "train the decoder only, on encoder "
                       "outputs cached once (default: on CPU yes, on CUDA no)"},
    "precision": {"choices": PRECISIONS, "help": "autocast precision; auto = bf16/fp16 on CUDA, float32 on CPU"},
    "heldout_fraction": {"type": float, "help": "kept clips held out for evaluation"},
    "eval_every": {"type": int, "help": f"steps between held-out checks (default: {CHECKS_PER_RUN} in the run)"},
    "patience": {"type": int, "help": "stop after this many held-out checks without a better student (fewer "
                 "looping transcripts, then lower WER against the labels, then lower loss); 0: train to the end"},
    "evaluate": {"action": argparse.BooleanOptionalAction, "help": "end with teacher vs student on the held-out "
                 "clips (eval.json); `eval` does it later"},
    "checkpoint_every": {"type": int, "help": "steps between checkpoints"},
    "seed": {"type": int, "help": "seed for the split, the shuffles and the model"},
    "recipe": {"help": "recipe YAML (default: WORKSPACE/recipe.yaml)"},
    "teacher": {"help": "CTranslate2 or transformers Whisper folder; default: the bundled Whisper base"},
}


def _add_eval(commands) -> None:
    eval_ = _command(commands, "eval", _eval, "Compare a distilled student with its teacher on labelled clips: "
                     "WER, decoding speed (RTFx), parameters.")
    eval_.add_argument("run", help="run folder written by `distill` (WORKSPACE/runs/NAME)")
    eval_.add_argument("--test", required=True, help="clips with reference text: a NeMo JSONL manifest, a CSV or "
                       "a folder")
    eval_.add_argument("--out", default=None, help="report file (default: RUN/eval-<test name>.json)")


def _add_demo(commands) -> None:
    demo = _command(commands, "demo", _demo, "Score the bundled demo clips once (about 2 minutes on 2 cores) and "
                    "open the app on them.")
    demo.add_argument("--workspace", "-w", default=None, help="where to score the demo "
                      "(default: demo/ in $WHISPER_CURATOR_CACHE, else ~/.cache/whisper-curator)")
    demo.add_argument("--host", default=HOST, help="address to bind (this machine only)")
    demo.add_argument("--port", type=int, default=PORT, help="port to bind")


def _options(parser: argparse.ArgumentParser, defaults) -> Callable[..., None]:
    """`option(field, **argparse_kwargs)` adds --field-name with the dataclass `defaults`' value as its default."""
    def option(name: str, **kwargs) -> None:
        parser.add_argument(f"--{name.replace('_', '-')}", default=getattr(defaults, name), **kwargs)
    return option


def _command(commands, name: str, handler: Callable[[argparse.Namespace], None], help_text: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text.replace("%", "%%"), description=help_text,
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub.set_defaults(handler=handler)
    return sub


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"whisper-curator {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"whisper-curator {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    return 0
