"""Distillation: train the student on the kept pseudo-labels, with the teacher's logits as soft targets.

nanoGPT's `train.py` in one function: config, setup, teacher cache, `rows_for` (the batch of a step),
`held_out_loss`, `lr_factor`, one loop (eval + best, micro-steps, clip, step, log, checkpoint, stop),
then export and evaluation. Loss = α_CE · CE(pseudo-label) + α_KL · T² · KL(teacher ‖ student) on the
teacher's cached top-k logits. Two routes:

    frozen encoder (default on CPU): encoder outputs are cached once, only the decoder trains
    full (default on CUDA): encoder trains too, bf16/fp16 autocast, gradient accumulation

An experts student (engine.distill.experts, DistilWhisper's CLSR) trains only its experts and gates: each
clip's language (the scores table's `lang`) routes it, the loss adds the gate budget term. The reference puts
experts on every encoder and decoder layer, and so does the full route; the frozen-encoder route puts them on
the decoder only: its encoder outputs are cached, so encoder experts could not train, and training the encoder
on the CPU would cost its whole window every step (the encoder dominates Whisper's compute).

Data parallel over processes with `accelerate launch` (gloo on CPU, NCCL on GPUs). The run folder:
config.yaml, checkpoint.pt (latest: weights, optimiser, schedule, step), best.pt, metrics.jsonl,
status.json, log.txt, then student/ (transformers), student-ct2/ (CTranslate2) and eval.json; an experts
run's student/ holds the experts too (`load_experts`), student-ct2-<lang>/ is the model merged for each target
language and student-ct2/ the shared model, for every other language. The
teacher cache holds one file per clip, shared by every run (WS/runs/.cache/, see engine.distill.data).
Rerunning a run resumes from its checkpoint; a finished run returns at once.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from engine.distill.config import CHECKS_PER_RUN, FULL_WINDOW_SECONDS, TEACHER_LAYER_KINDS, DistillConfig
from engine.distill.data import (
    CACHES, ENCODER, FEATURES, IGNORE, Batch, TeacherCache, cache_entries, fill_cache, heldout_split, kept_targets,
    store_key,
)
from engine.distill.jobs import (
    BEST, CHECKPOINT, CONFIG, EVAL, METRICS, RUNS, STATUS, STUDENT, STUDENT_CT2, RunFiles, cancel_requested,
    language_ct2, workspace_lock,
)
from engine.distill.experts import (
    STACKS, ExpertOptions, budget_loss, gate_decisions, has_experts, majority_choices, merge_error, route_languages,
    set_progress,
)
from engine.io.atomic import atomic_path, write_text_atomic
from engine.io.workspace import Workspace

AFTER_TRAINING = {"evaluate"}  # options a resumed run may change: they act after the last step


@dataclass
class StepInfo:
    """Where a run stands; written to status.json and passed to `on_step`."""

    stage: str  # preparing | training | evaluating | done | cancelled | failed
    step: int = 0
    max_steps: int = 0
    message: str = ""
    loss: float | None = None
    ce: float | None = None
    kl: float | None = None
    lr: float | None = None
    eval_loss: float | None = None
    eval_wer: float | None = None  # the student's greedy transcripts of the held-out clips against their labels
    eval_loops: int | None = None
    best_eval_loss: float | None = None
    eta_seconds: float | None = None


@dataclass
class DistillResult:
    run_dir: str
    stage: str  # done | cancelled
    steps: int
    best_eval_loss: float | None
    eval: dict | None  # eval.json when done

    def line(self) -> str:
        if self.stage != "done":
            return f"cancelled at step {self.steps}; rerun the same command to resume from {self.run_dir}"
        usable = f" ({self.eval['verdict']})" if self.eval and "verdict" in self.eval else ""
        return (f"distilled {self.steps} steps; student in {self.run_dir}/{STUDENT} and "
                f"{self.run_dir}/{STUDENT_CT2}{usable}")


def resolved(config: DistillConfig, cuda: bool) -> DistillConfig:
    """`config` with the route and precision decided for this machine."""
    freeze = (not cuda) if config.freeze_encoder is None else config.freeze_encoder
    precision = config.precision
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "no"
    return replace(config, freeze_encoder=freeze, precision=precision)


def resolved_here(config: DistillConfig = DistillConfig()) -> DistillConfig:
    """`resolved` for this machine's hardware (CUDA when present)."""
    return resolved(config, cuda=torch.cuda.is_available())


def total_steps(config: DistillConfig, n_train: int, world: int) -> int:
    if config.max_steps is not None:
        return config.max_steps
    return max(1, math.ceil(config.epochs * n_train / (config.batch_size * config.grad_accum * world)))


def lr_factor(step: int, warmup: int, max_steps: int) -> float:
    """Linear warmup over `warmup` steps, then linear decay to 0 at `max_steps`."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (max_steps - step) / max(1, max_steps - warmup))


def rows_for(step: int, micro: int, rank: int, world: int, train: np.ndarray, config: DistillConfig) -> np.ndarray:
    """Cache rows of one micro-batch: each epoch a seeded shuffle of `train`, cut into global batches
    (batch_size × grad_accum × world, wrapping at the end), each process taking its own slice."""
    per_step = config.batch_size * config.grad_accum * world
    steps_per_epoch = math.ceil(len(train) / per_step)
    epoch, position = divmod(step, steps_per_epoch)
    order = np.random.default_rng(config.seed + epoch).permutation(train)
    start = position * per_step + (micro * world + rank) * config.batch_size
    return order[(start + np.arange(config.batch_size)) % len(order)]


def kd_loss(logits: torch.Tensor, batch: Batch, config: DistillConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, CE, KL) over the non-padding positions of `batch`. KL(teacher ‖ student) at temperature T,
    the teacher's distribution renormalised over its cached top-k, scaled by T², on the positions where
    the teacher's distribution is known (all of them when teacher and student share a vocabulary)."""
    mask = batch.labels != IGNORE
    ce = F.cross_entropy(logits[mask].float(), batch.labels[mask])
    known = mask & batch.kd_mask
    if not known.any():
        kl = ce.new_zeros(())
    else:
        t = config.temperature
        student = F.log_softmax(logits[known].float() / t, dim=-1).gather(-1, batch.topk_ids[known])
        teacher = F.log_softmax(batch.topk_values[known] / t, dim=-1)
        p = teacher.exp()
        kl = torch.where(p > 0, p * (teacher - student), 0.0).sum(-1).mean() * t * t
    return config.alpha_ce * ce + config.alpha_kl * kl, ce, kl


def student_logits(model, batch: Batch, kind: str, device) -> torch.Tensor:
    """The student's logits on `batch`; a student with language experts is routed by the batch's languages."""
    route_languages(_unwrapped(model), batch.langs)
    inputs = batch.inputs.to(device)
    decoder = batch.decoder_input_ids.to(device)
    if kind == ENCODER:
        return model(encoder_outputs=(inputs,), decoder_input_ids=decoder).logits
    return model(input_features=inputs, decoder_input_ids=decoder).logits


@torch.no_grad()
def held_out_loss(model, cache: TeacherCache, rows: np.ndarray, config: DistillConfig, device, autocast) -> float:
    """Token-weighted mean loss over the held-out rows."""
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(rows), config.batch_size):
        batch = cache.batch(rows[start:start + config.batch_size])
        with autocast():
            loss, _, _ = kd_loss(student_logits(model, batch, cache.kind, device), batch.to(device), config)
        n = int((batch.labels != IGNORE).sum())
        total, tokens = total + float(loss) * n, tokens + n
    model.train()
    return total / max(1, tokens)


def _unwrapped(model):
    """The student inside a data-parallel wrapper (the model itself in a single process)."""
    return getattr(model, "module", model)


def _trainable_state(model) -> dict[str, torch.Tensor]:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t.detach().cpu() for n, t in model.state_dict().items() if n in names}


def _save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_run_config(run: Path, config: DistillConfig) -> None:
    """Write config.yaml (route and precision decided for this machine) for a new run; refuse to resume
    a run made with other options."""
    config = resolved(config, torch.cuda.is_available())
    path = run / CONFIG
    if path.is_file():
        stored = resolved(DistillConfig.from_yaml(path.read_text()), torch.cuda.is_available())
        changed = [f.name for f in fields(config) if getattr(stored, f.name) != getattr(config, f.name)]
        if set(changed) - AFTER_TRAINING:
            raise ValueError(f"{run} was started with other options ({', '.join(changed)}); "
                             "resume it with the same options or choose a new run name")
    run.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, config.to_yaml())


def finished_result(run: Path) -> DistillResult | None:
    """The result of a run that already finished, else None."""
    try:
        status = json.loads((run / STATUS).read_text())
        report = json.loads((run / EVAL).read_text()) if (run / EVAL).is_file() else None
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if status.get("stage") != "done" or not (run / STUDENT_CT2 / "model.bin").is_file():
        return None
    return DistillResult(str(run), "done", status["step"], status.get("best_eval_loss"), report)


def distill(workspace: str | Path | Workspace, config: DistillConfig, run_dir: str | Path,
            on_step: Callable[[StepInfo], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> DistillResult:
    """Distill the teacher into a student on the workspace's kept set; resumable, cancellable."""
    from accelerate import Accelerator, DistributedDataParallelKwargs

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    run = Path(run_dir).expanduser().resolve()
    cuda = torch.cuda.is_available()
    config = resolved(config, cuda)
    # an experts batch leaves the other languages' experts (and a skipped layer's) without gradients
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)] if config.student == "experts" else []
    accelerator = Accelerator(cpu=not cuda, mixed_precision=config.precision, kwargs_handlers=handlers)
    main = accelerator.is_main_process
    files = RunFiles(run, main, on_step)
    lock = workspace_lock(ws, run) if main else contextlib.nullcontext()
    with lock:
        if main:
            write_run_config(run, config)
        done = finished_result(run)
        if done:
            return done
        try:
            return _train(ws, config, run, accelerator, files, should_stop)
        except Exception as e:
            files.log(f"failed: {type(e).__name__}: {e}")
            files.status(StepInfo("failed", message=f"{type(e).__name__}: {e}"))
            raise


STOP_REASONS = (None, "cancelled", "converged")


def _stopper(run: Path, should_stop: Callable[[], bool] | None, accelerator,
             converged: Callable[[], bool]) -> Callable[[], str | None]:
    """"cancelled" when the caller or a cancel file asks to stop, "converged" when early stopping does, else
    None; with several processes, the main one decides."""
    def stop() -> str | None:
        code = 1 if (should_stop and should_stop()) or cancel_requested(run) else 2 if converged() else 0
        if accelerator.num_processes > 1:
            from accelerate.utils import broadcast

            code = int(broadcast(torch.tensor([code], device=accelerator.device, dtype=torch.int32)).item())
        return STOP_REASONS[code]
    return stop


def _records(rows: pd.DataFrame) -> list[dict]:
    """A run's clips as plain records (stored in its checkpoint)."""
    rows = rows[["id", "audio_filepath", "text", "lang"]].astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


def _student_identity(config: DistillConfig, kind: str, source: Path) -> str:
    """What a cache entry depends on of the student: its vocabulary, and its encoder when the entry stores
    encoder outputs."""
    from engine.distill.data import weights_identity

    kind_name = "window" if config.student == "experts" else config.student  # the same layers: the same entries
    identity = [kind_name, weights_identity(source) if config.student not in TEACHER_LAYER_KINDS else None]
    window = [config.window] if config.window < FULL_WINDOW_SECONDS else []  # Whisper's 30 s: the stores made before windows
    return json.dumps(identity + [config.encoder_layers if kind == ENCODER else None] + window)


def _add_experts(student, config: DistillConfig, files: RunFiles) -> None:
    """Language experts on the student: on both stacks (the reference), on the decoder only when the encoder is
    frozen (its outputs are cached: encoder experts would never train)."""
    from engine.distill.experts import add_experts

    stacks = ("decoder",) if config.freeze_encoder else STACKS
    budget = {} if config.gate_budget is None else {"budget": config.gate_budget}
    add_experts(student, config.language_list, ExpertOptions(stacks=stacks, **budget))
    where = ("decoder layers only: the encoder is frozen and its outputs cached, so encoder experts could not train"
             if config.freeze_encoder else "encoder and decoder layers")
    files.log(f"language experts for {', '.join(config.language_list)} on the {where}; only experts and gates train")


def _prepare(ws: Workspace, config: DistillConfig, run: Path, accelerator, files: RunFiles,
             should_stop: Callable[[], bool] | None):
    """(student, its processor, teacher cache, the run's clips, checkpoint or None); the teacher runs once,
    on the main process, on clips the store lacks. None when cancelled during the teacher pass."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from engine.distill.data import Pair
    from engine.distill.student import build_student, with_window
    from engine.teacher.convert import resolve_hf_dir

    device, main = accelerator.device, accelerator.is_main_process
    teacher_dir = resolve_hf_dir(config.teacher)
    teacher = WhisperForConditionalGeneration.from_pretrained(teacher_dir).eval()
    student, source = build_student(config.student, teacher, teacher_dir, config.student_model,
                                    config.decoder_layers, config.encoder_layers)
    processors = [WhisperProcessor.from_pretrained(d) for d in (teacher_dir, source)]
    if config.window < FULL_WINDOW_SECONDS:
        processors[1] = with_window(student, processors[1], config.window)
        files.log(f"the student's encoder sees {config.window} s; longer clips are skipped")
    if config.student == "experts":
        _add_experts(student, config, files)
    if config.lora_rank:
        from engine.distill.lora import add_lora

        add_lora(student, config.lora_rank)
        files.log(f"LoRA adapters of rank {config.lora_rank} on the decoder's attention and feed-forward layers; "
                  "only they train")
    shares = config.student == "pruned" and config.window == FULL_WINDOW_SECONDS
    pair = Pair(teacher, student, tuple(processors),
                shares_encoder=shares and student.config.encoder_layers == teacher.config.encoder_layers)
    kind = ENCODER if config.freeze_encoder else FEATURES
    clips = _records(kept_targets(ws, config.recipe))
    checkpoint = torch.load(run / CHECKPOINT, map_location="cpu", weights_only=False) if (run / CHECKPOINT).is_file() else None
    if checkpoint and checkpoint["clips"] != clips:  # the recipe changed: keep the run's clips
        clips = checkpoint["clips"]
        files.log("the kept set changed since this run started; it goes on with the clips it started with")
    store = ws.path(RUNS) / CACHES / store_key(teacher_dir, config.topk, kind, _student_identity(config, kind, source))
    entries, skipped = cache_entries(pd.DataFrame(clips), pair.tokenizers, (teacher.config, student.config))
    missing = sum(not (store / e.name).is_file() for e in entries)
    if main and missing:
        files.log(f"caching the teacher on {missing} of {len(entries)} kept clips ({kind} inputs, "
                  f"top-{config.topk} logits) in {store}")
        files.status(StepInfo("preparing", message=f"teacher pass on {missing} clips"))
        teacher.to(device)
        student.to(device)
        unreadable = fill_cache(
            entries, store, pair, config.topk, kind, str(device), config.batch_size,
            progress=lambda done, n: files.status(StepInfo("preparing", message=f"teacher pass: {done}/{n} clips")),
            should_stop=lambda: bool((should_stop and should_stop()) or cancel_requested(run)))
        if unreadable is None:
            return None
        skipped.update(unreadable)
    elif main:
        files.log(f"the teacher cache holds all {len(entries)} kept clips ({store})")
    for clip, reason in skipped.items():
        files.log(f"skipped {clip}: {reason}")
    accelerator.wait_for_everyone()
    cache = TeacherCache(store, entries, kind)
    if not len(cache):
        raise ValueError("no kept clip could be read: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    return student, pair.processors[1], cache, clips, checkpoint


def _train(ws: Workspace, config: DistillConfig, run: Path, accelerator, files: RunFiles,
           should_stop: Callable[[], bool] | None) -> DistillResult:
    device, main = accelerator.device, accelerator.is_main_process
    tracker = BestTracker(config.patience)
    stop = _stopper(run, should_stop, accelerator, lambda: tracker.converged())  # the tracker a resume loads
    torch.manual_seed(config.seed)
    prepared = _prepare(ws, config, run, accelerator, files, should_stop)
    if prepared is None:
        files.status(StepInfo("cancelled", message="cancelled while caching the teacher"))
        return DistillResult(str(run), "cancelled", 0, None, None)
    student, processor, cache, clips, checkpoint = prepared
    train, held = heldout_split(len(cache), config.heldout_fraction, config.seed)
    if config.freeze_encoder:
        student.model.encoder.requires_grad_(False)
    student.to(device).train()
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    max_steps = total_steps(config, len(train), accelerator.num_processes)
    warmup = int(round(config.warmup_fraction * max_steps))
    eval_every = config.eval_every or max(1, max_steps // CHECKS_PER_RUN)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warmup, max_steps))

    step = 0
    if checkpoint:
        step, tracker = _resume(checkpoint, student, optimizer, scheduler, config, run, files, main)
    elif main:
        (run / METRICS).unlink(missing_ok=True)
        files.log(f"training {len(train)} clips ({len(held)} held out) for {max_steps} steps on "
                  f"{accelerator.num_processes} process(es) ({accelerator.state.backend or 'single'}), "
                  f"{'frozen' if config.freeze_encoder else 'trained'} encoder, precision {config.precision}")
    model, optimizer = accelerator.prepare(student, optimizer)
    unwrapped = accelerator.unwrap_model(model)
    experts = has_experts(unwrapped)

    def checkpoint() -> None:
        if main:
            _save({"model": _trainable_state(unwrapped), "optimizer": optimizer.state_dict(),
                   "scheduler": scheduler.state_dict(), "step": step, "best": asdict(tracker),
                   "config": asdict(config), "clips": clips}, run / CHECKPOINT)

    info = StepInfo("training", step, max_steps, message="training")
    if main and len(held) and step == 0:  # the starting point is a candidate: training must beat it
        info = _held_out_step(unwrapped, cache, held, config, processor.tokenizer, accelerator, tracker, info, run, files)
    recent: list[float] = []
    reason = None
    while step < max_steps:
        reason = stop()
        if reason:
            break
        started = time.perf_counter()
        if experts:
            set_progress(unwrapped, step / max_steps)
        loss, ce, kl, budget, lr = _train_step(model, params, optimizer, scheduler, cache, train, step, config, accelerator)
        step += 1
        recent = (recent + [time.perf_counter() - started])[-20:]
        info = replace(info, step=step, loss=loss, ce=ce, kl=kl, lr=lr, eta_seconds=float(np.mean(recent)) * (max_steps - step))
        files.metric(step=step, loss=loss, ce=ce, kl=kl, lr=lr, seconds=recent[-1], **({"budget": budget} if experts else {}))
        if main and len(held) and (step % eval_every == 0 or step == max_steps):
            info = _held_out_step(unwrapped, cache, held, config, processor.tokenizer, accelerator, tracker, info, run, files)
        files.status(info)
        if step % config.checkpoint_every == 0 or step == max_steps:
            checkpoint()
    if reason == "cancelled":
        checkpoint()
        files.log(f"cancelled at step {step}; checkpoint saved")
        files.status(replace(info, stage="cancelled", message=f"cancelled at step {step}"))
        return DistillResult(str(run), "cancelled", step, tracker.loss, None)
    if reason == "converged":
        files.log(f"stopped early at step {step}: no better student in {config.patience} held-out checks; "
                  f"keeping step {tracker.step}")
    accelerator.wait_for_everyone()
    if not main:
        return DistillResult(str(run), "done", step, None, None)
    return _finish(ws, config, run, unwrapped, processor, cache, held, files, info, tracker.loss)


def _resume(checkpoint: dict, student, optimizer, scheduler, config: DistillConfig, run: Path, files: RunFiles,
            main: bool) -> tuple[int, BestTracker]:
    """Load a checkpoint into the student, optimiser and scheduler; (its step, its best-check tracker)."""
    student.load_state_dict(checkpoint["model"], strict=False)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    step, tracker = checkpoint["step"], BestTracker(**{**checkpoint["best"], "patience": config.patience})
    files.truncate_metrics(step)
    if main and (run / BEST).is_file() and torch.load(run / BEST, map_location="cpu")["step"] > step:
        (run / BEST).unlink()  # saved after the checkpoint: from steps that are redone now
    files.log(f"resumed from the checkpoint at step {step}")
    return step, tracker


def _train_step(model, params: list, optimizer, scheduler, cache: TeacherCache, train: np.ndarray, step: int,
                config: DistillConfig, accelerator) -> tuple[float, float, float, float, float]:
    """One optimiser step over `config.grad_accum` micro-batches: (loss, ce, kl, budget, lr), averaged over
    processes; budget is the experts' gate budget term (in the loss; 0 for other students)."""
    device = accelerator.device
    for micro in range(config.grad_accum):
        batch = cache.batch(rows_for(step, micro, accelerator.process_index, accelerator.num_processes, train, config))
        sync = contextlib.nullcontext() if micro == config.grad_accum - 1 else accelerator.no_sync(model)
        with sync, accelerator.autocast():
            loss, ce, kl = kd_loss(student_logits(model, batch, cache.kind, device), batch.to(device), config)
            budget = budget_loss(_unwrapped(model)) if has_experts(_unwrapped(model)) else torch.zeros_like(loss)
            loss = loss + budget
            accelerator.backward(loss / config.grad_accum)
    accelerator.clip_grad_norm_(params, config.max_grad_norm)
    lr = scheduler.get_last_lr()[0]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    loss, ce, kl, budget = accelerator.reduce(torch.stack([loss, ce, kl, budget]).detach().float(), "mean").tolist()
    return loss, ce, kl, budget, lr


@dataclass
class BestTracker:
    """The best held-out check so far (fewest loops, then lowest WER, then lowest loss) and how many checks
    have passed since it; `converged` once `patience` checks brought nothing better."""
    patience: int
    step: int = 0
    loops: int | None = None
    wer: float | None = None
    loss: float | None = None
    stale: int = 0

    def better(self, step: int, loops: int, wer: float, loss: float) -> bool:
        """Record the check at `step`; True when it is the best so far."""
        if self.loss is not None and (loops, wer, loss) >= (self.loops, self.wer, self.loss):
            self.stale += 1
            return False
        self.step, self.loops, self.wer, self.loss, self.stale = step, loops, wer, loss, 0
        return True

    def converged(self) -> bool:
        return self.patience > 0 and self.stale >= self.patience


def _held_out_step(model, cache: TeacherCache, held: np.ndarray, config: DistillConfig, tokenizer, accelerator,
                   tracker: BestTracker, info: StepInfo, run: Path, files: RunFiles) -> StepInfo:
    """Held-out loss and greedy transcripts; the best student so far is saved to best.pt."""
    from engine.distill.greedy import held_out_check

    loss = held_out_loss(model, cache, held, config, accelerator.device, accelerator.autocast)
    check = held_out_check(model, cache, held, tokenizer, accelerator.device, config.batch_size)
    files.metric(step=info.step, eval_loss=loss, eval_wer=check.wer, eval_loops=check.loops)
    if tracker.better(info.step, check.loops, check.wer, loss):
        _save({"model": _trainable_state(model), "step": info.step, "loss": loss}, run / BEST)
    files.log(f"step {info.step}: held-out loss {loss:.4f}, WER against the labels {check.wer:.3f}, "
              f"{check.loops} looping (best: step {tracker.step})")
    return replace(info, eval_loss=loss, eval_wer=check.wer, eval_loops=check.loops, best_eval_loss=tracker.loss)


def _save_students(student, processor, run: Path, cache: TeacherCache, held: np.ndarray, files: RunFiles) -> None:
    """student/ (transformers) and student-ct2/ (CTranslate2); a LoRA student with its adapters merged. An experts
    student: student/ holds the experts (`save_experts`), student-ct2-<lang>/ its merge for each language,
    student-ct2/ the shared model."""
    from engine.distill.experts import merged_for_language, routing, save_experts
    from engine.distill.lora import has_lora
    from engine.distill.lora import merged as lora_merged
    from engine.distill.student import export_ct2, save_student

    if has_lora(student):
        lora_merged(student)  # the adapters folded in: a plain Whisper, saved and exported as any other
    if not has_experts(student):
        save_student(student, processor, run / STUDENT)
    else:
        save_experts(student, processor, run / STUDENT)
        for lang in routing(student).options.languages:
            merged = merged_for_language(student, lang, _merge_choices(student, lang, cache, held, files))
            _export_plain(merged, processor, run / language_ct2(lang))
        files.log(f"saved the merged student for each language to {run / language_ct2('<lang>')} (CTranslate2)")
    export_ct2(run / STUDENT, run / STUDENT_CT2)  # an experts folder's base weights: the shared model
    files.log(f"saved the student to {run / STUDENT} (transformers) and {run / STUDENT_CT2} (CTranslate2)")


def _export_plain(model, processor, out_dir: Path) -> None:
    """A plain Whisper straight to a CTranslate2 folder (its transformers folder is a scratch one)."""
    import tempfile

    from engine.distill.student import export_ct2, save_student

    with tempfile.TemporaryDirectory(dir=out_dir.parent) as scratch:
        export_ct2(save_student(model, processor, Path(scratch) / "hf"), out_dir)


MERGE_CLIPS = 8  # held-out clips of a language whose gate decisions pick its merge's blocks


def _merge_choices(student, lang: str, cache: TeacherCache, held: np.ndarray, files: RunFiles) -> list[bool] | None:
    """Per layer with experts, whether `lang`'s merge takes the expert: the majority of the evaluation gates on
    up to MERGE_CLIPS held-out clips of `lang`, one at a time (no padding); None (every layer on the expert)
    when none is held out."""
    rows = [i for i in held if cache.entries[i].lang == lang][:MERGE_CLIPS]
    if not rows:
        files.log(f"{lang}: no held-out clip to choose the merge from; every layer takes the {lang} expert")
        return None
    per_clip = []
    for row in rows:
        batch = cache.batch(np.array([row]))
        inputs = {"encoder_outputs": (batch.inputs,)} if cache.kind == ENCODER else {"input_features": batch.inputs}
        per_clip.append(gate_decisions(student, lang, batch.decoder_input_ids, **inputs))
    decisions = [torch.cat(layer) for layer in zip(*per_clip)]
    choices = majority_choices(decisions)
    files.log(f"{lang}: merged with the expert in {sum(choices)} of {len(choices)} layers (majority of the gates on "
              f"{len(rows)} held-out clips); the merge overrides {100 * merge_error(decisions, choices):.1f} % of "
              "their gate decisions")
    return choices


def _finish(ws, config, run, student, processor, cache, held, files, info, best) -> DistillResult:
    """Best weights → student/ and student-ct2/ (and an experts run's student-ct2-<lang>/), then
    (`config.evaluate`) teacher vs student on the held-out clips → eval.json."""
    from engine.distill.evaluate import evaluate_run, format_table

    files.status(replace(info, stage="evaluating", message="saving the student"))
    if (run / BEST).is_file():
        student.load_state_dict(torch.load(run / BEST, map_location="cpu")["model"], strict=False)
    _save_students(student.float().cpu().eval(), processor, run, cache, held, files)
    report = None
    if config.evaluate:
        split = "held-out" if len(held) else "training (no held-out clips)"
        ids = {cache.ids[i] for i in held} if len(held) else set(cache.ids[:8])
        table = ws.table()
        clips = table[table["id"].isin(ids)][["id", "audio_filepath", "lang", "text"]].rename(columns={"text": "reference"})
        files.status(replace(info, stage="evaluating", message=f"teacher vs student on {len(clips)} {split} clips"))
        report = {**evaluate_run(run, clips, config.teacher), "split": split}
        write_text_atomic(run / EVAL, json.dumps(report, indent=1))
        files.log(f"teacher vs student on {len(clips)} {split} clips:\n" + format_table(report))
    files.status(replace(info, stage="done", message="done", best_eval_loss=best, eta_seconds=0.0))
    return DistillResult(str(run), "done", info.step, best, report)
