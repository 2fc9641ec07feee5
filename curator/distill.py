"""Distill tab: train a student on the kept set in a background job, watch it, cancel it, compare it.

The job is `whisper-curator distill` started by engine.jobs; everything shown is read back from the
run folder, so a reloaded page or a second browser attaches to the running job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go

from curator.filters import PLOT_STYLE
from engine.distill.config import WINDOW_SECONDS
from engine.distill.data import kept_targets
from engine.distill.evaluate import format_table
from engine.distill.jobs import (
    ACTIVE_STATES, CONFIG, EVAL, RUNS, STUDENT, STUDENT_CT2, JobRunning, cancel_job, language_models, list_runs, log_tail,
    read_metrics, read_status, run_dir, running_job, start_job,
)
from engine.distill.train import DistillConfig, resolved_here, write_run_config
from engine.io.workspace import Workspace

POLL_SECONDS = 1.0
STUDENT_LABELS = {"pruned": "pruned: the teacher with fewer decoder layers",
                  "smaller": "smaller: Whisper tiny.en distilled from the teacher (English clips)",
                  "window": f"window: the teacher's layers seeing {WINDOW_SECONDS} s, not 30 (clips up to {WINDOW_SECONDS} s)",
                  "experts": "experts: window with a language expert per target language (only the experts train)"}
LOSS_COLOUR, EVAL_COLOUR = "#2563eb", "#f97316"


def kept_set_line(ws: Workspace) -> str:
    try:
        rows = kept_targets(ws)
    except (ValueError, FileNotFoundError) as e:
        return f"**Kept set:** {e}"
    return (f"**Kept set:** {len(rows)} clips ({rows['duration'].sum() / 3600:.2f} h), as the saved recipe "
            "(recipe.yaml) keeps them — save the recipe first if you changed a filter.")


def new_run_name() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S")


def config_from_form(student, languages, decoder_layers, epochs, max_steps, batch_size, alpha_ce, alpha_kl, temperature,
                     freeze_encoder) -> DistillConfig:
    """The form's values as a DistillConfig; a bad value becomes a readable error in the page."""
    try:
        return DistillConfig(student=student, languages=(languages or "").strip() or None,
                             decoder_layers=int(decoder_layers) if decoder_layers else None,
                             epochs=float(epochs or 0),
                             max_steps=int(max_steps) if max_steps else None, batch_size=int(batch_size),
                             alpha_ce=float(alpha_ce), alpha_kl=float(alpha_kl), temperature=float(temperature),
                             freeze_encoder=bool(freeze_encoder))
    except (TypeError, ValueError) as e:
        raise gr.Error(f"Check the form: {e}") from None


def loss_figure(run: Path | None) -> go.Figure:
    """Training loss per step, and held-out loss where it was evaluated."""
    layout = dict(height=300, template=PLOT_STYLE, margin=dict(l=50, r=20, t=30, b=40),
                  xaxis_title="step", yaxis_title="loss", legend=dict(orientation="h", y=1.12))
    metrics = read_metrics(run) if run else None
    if metrics is None or metrics.empty:
        return go.Figure(layout={**layout, "title": "no steps yet"})
    train = metrics.dropna(subset=["loss"]) if "loss" in metrics else metrics.iloc[:0]
    traces = [go.Scatter(x=train["step"], y=train["loss"], mode="lines", name="training loss",
                         line=dict(color=LOSS_COLOUR))]
    if "eval_loss" in metrics:
        held = metrics.dropna(subset=["eval_loss"])
        traces.append(go.Scatter(x=held["step"], y=held["eval_loss"], mode="lines+markers",
                                 name="held-out loss", line=dict(color=EVAL_COLOUR)))
    return go.Figure(traces, layout=layout)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def status_markdown(run: Path | None, status: dict | None) -> str:
    """The status line for `run`'s last status (`read_status`)."""
    if run is None:
        return "No distillation run yet."
    if status is None:
        return f"Run `{run.name}`: no status yet."
    stage, step, total = status["stage"], status.get("step", 0), status.get("max_steps", 0)
    line = f"Run `{run.name}` — **{stage}**"
    if total:
        line += f" · step {step}/{total}"
    if stage == "training":
        line += f" · ETA {_duration(status.get('eta_seconds'))}"
    if status.get("loss") is not None:
        line += f" · loss {status['loss']:.3f}"
    if status.get("message") and status["message"] not in (stage, "training"):
        line += f"\n\n{status['message']}"
    return line


def result_markdown(run: Path | None) -> str:
    """On completion: the teacher-vs-student table and where the student was saved."""
    if run is None or not (run / EVAL).is_file():
        return ""
    import json

    report = json.loads((run / EVAL).read_text())
    per_language = "".join(f", for {lang} in `{path}`" for lang, path in language_models(run).items())
    return (f"### Teacher vs student ({report['clips']} {report.get('split', '')} clips)\n\n{format_table(report)}\n\n"
            f"Saved for transformers in `{run / STUDENT}` and for faster-whisper / CTranslate2 in `{run / STUDENT_CT2}`"
            f"{per_language}.")


def is_active(status: dict | None) -> bool:
    return bool(status and status["stage"] in ACTIVE_STATES)


def views(ws: Workspace, run: Path | None) -> tuple:
    """(status, plot, log, result, timer) for `run`; the timer keeps ticking while the job is active. The status
    line and the timer come from one read of the status: read twice, a job finishing in between would leave the
    line on `training` with the timer stopped."""
    status = read_status(ws, run) if run else None
    return (status_markdown(run, status), loss_figure(run), log_tail(run) if run else "", result_markdown(run),
            gr.Timer(active=is_active(status)))


def current_run(ws: Workspace) -> Path | None:
    """The running job's run, else the newest run, else None."""
    runs = list_runs(ws)
    return running_job(ws) or (runs[0] if runs else None)


def start(ws: Workspace, name: str, config: DistillConfig) -> Path:
    """Start a job (or say which one is running); return the run the tab should show."""
    name = (name or "").strip() or new_run_name()
    if len(Path(name).parts) != 1 or name.startswith("."):  # a path, or ".", "..", the hidden .cache
        raise gr.Error(f"{name!r} is not a run name: use letters, digits, - and _ (runs live in {ws.path(RUNS)})")
    run = run_dir(ws, name)
    busy = running_job(ws)
    if busy:
        gr.Warning(f"A distillation job is already running ({busy.name}); wait for it or cancel it.")
        return busy
    try:
        write_run_config(run, config)
        start_job(ws, run, run / CONFIG)
    except JobRunning as e:
        gr.Warning(str(e))
        return running_job(ws) or run
    except (ValueError, OSError) as e:
        raise gr.Error(str(e)) from None
    gr.Info(f"Started distillation run {run.name}.")
    return run


def cancel(ws: Workspace, run: Path | None) -> None:
    if run is None or not is_active(read_status(ws, run)):
        gr.Info("No job is running.")
        return
    cancel_job(run)
    gr.Info("Cancelling after the current step (a checkpoint is saved; start the same run name to resume).")


@dataclass
class DistillTab:
    kept: gr.Markdown
    name: gr.Textbox
    form: list
    start: gr.Button
    cancel: gr.Button
    outputs: list
    timer: gr.Timer
    run: gr.State


def build(ws: Workspace, app: gr.Blocks) -> DistillTab:
    """Lay out and wire the Distill tab inside the current Blocks context; `app.load` reattaches to a job."""
    default = resolved_here()
    gr.Markdown("Trains a smaller Whisper (the student) on the kept clips' pseudo-labels, with the teacher's "
                "output distribution as soft targets. The same from a shell: `whisper-curator distill WS`. "
                f"The default student is the teacher itself with a {WINDOW_SECONDS} s encoder window instead of 30 s "
                "(clips up to that long): in docs/students.md it has the best held-out WER of the students at least "
                "twice as fast as the teacher without looping transcripts, and a run keeps its starting weights "
                "unless a held-out check finds better ones.",
                elem_id="distill-intro")
    kept = gr.Markdown(elem_id="distill-kept")
    with gr.Row():
        name = gr.Textbox(new_run_name(), label="Run name (an earlier, unfinished run's name resumes it)",
                          elem_id="distill-run-name")
        student = gr.Dropdown([(label, kind) for kind, label in STUDENT_LABELS.items()], value=default.student,
                              label="Student", elem_id="distill-student")
        languages = gr.Textbox(default.languages or "", label="Languages (experts only: one expert each, e.g. de,fr)",
                               placeholder="de,fr", elem_id="distill-languages")
        decoder_layers = gr.Number(default.decoder_layers or 0, precision=0, minimum=0,
                                   label="Decoder layers (0: pruned 2, else all)", elem_id="distill-decoder-layers")
        freeze = gr.Checkbox(default.freeze_encoder, label="Frozen encoder (outputs cached once; fast on CPU)",
                             elem_id="distill-freeze-encoder")
    with gr.Row():
        epochs = gr.Number(default.epochs, minimum=0, label="Epochs", elem_id="distill-epochs")
        max_steps = gr.Number(0, precision=0, minimum=0, label="Max steps (0: use epochs)", elem_id="distill-max-steps")
        batch_size = gr.Number(default.batch_size, precision=0, minimum=1, label="Batch size", elem_id="distill-batch-size")
    with gr.Row():
        alpha_ce = gr.Number(default.alpha_ce, minimum=0, label="CE weight", elem_id="distill-alpha-ce")
        alpha_kl = gr.Number(default.alpha_kl, minimum=0, label="KL weight", elem_id="distill-alpha-kl")
        temperature = gr.Number(default.temperature, minimum=0.1, label="Temperature", elem_id="distill-temperature")
    with gr.Row():
        start_button = gr.Button("Distill", variant="primary", elem_id="distill-button")
        cancel_button = gr.Button("Cancel", variant="stop", elem_id="distill-cancel")
    status = gr.Markdown(elem_id="distill-status")
    plot = gr.Plot(label="Loss", elem_id="distill-plot")
    log = gr.Textbox(label="Log", lines=8, max_lines=8, interactive=False, elem_id="distill-log")
    result = gr.Markdown(elem_id="distill-result")
    timer = gr.Timer(POLL_SECONDS, active=False)
    run = gr.State(None)
    form = [student, languages, decoder_layers, epochs, max_steps, batch_size, alpha_ce, alpha_kl, temperature, freeze]
    tab = DistillTab(kept, name, form, start_button, cancel_button, [status, plot, log, result, timer], timer, run)
    _wire(tab, ws, app)
    return tab


def _wire(tab: DistillTab, ws: Workspace, app: gr.Blocks) -> None:
    def attach():
        run = current_run(ws)
        return kept_set_line(ws), str(run) if run else None, *views(ws, run)

    def on_start(name, *form):
        run = start(ws, name, config_from_form(*form))
        return str(run), *views(ws, run)

    def on_tick(run):
        return views(ws, Path(run) if run else None)

    def on_cancel(run):
        cancel(ws, Path(run) if run else None)
        return views(ws, Path(run) if run else None)

    app.load(attach, None, [tab.kept, tab.run, *tab.outputs])
    tab.start.click(on_start, [tab.name, *tab.form], [tab.run, *tab.outputs])
    tab.timer.tick(on_tick, tab.run, tab.outputs, show_progress="hidden")
    tab.cancel.click(on_cancel, tab.run, tab.outputs)
