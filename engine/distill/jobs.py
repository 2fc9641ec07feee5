"""Distillation runs and jobs: the run folder's files, one job at a time per workspace, its state in
files that any session can read.

    WS/runs/.lock        an flock held by the process that trains (released when it dies, even by
                         kill -9); its text names the run
    RUN/status.json      the job's last `StepInfo`, rewritten every step
    RUN/metrics.jsonl    one line per step and per evaluation
    RUN/log.txt          what the job did, in words; RUN/job.out its stdout and stderr when started here
    RUN/cancel           created to ask the job to stop after its current step
    RUN/config.yaml, checkpoint.pt, best.pt, student/, student-ct2/, student-ct2-<lang>/ (experts), eval.json:
                         see engine.distill.train
    WS/runs/.cache/      teacher caches shared by runs on the same kept set: see engine.distill.data

So a reloaded page, a second browser or a shell sees the same job; `start_job` runs
`whisper-curator distill` in the background, handing it the lock it took.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from engine.io.atomic import write_text_atomic
from engine.io.workspace import Workspace

RUNS = "runs"
LOCK = ".lock"
CANCEL = "cancel"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
JOB_OUT = "job.out"
CONFIG = "config.yaml"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
STUDENT = "student"
STUDENT_CT2 = "student-ct2"  # an experts run: the shared model, for languages without an expert
EVAL = "eval.json"
LOCK_FD_ENV = "WHISPER_CURATOR_LOCK_FD"  # a lock taken by `start_job`, inherited by the job
ACTIVE_STATES = ("starting", "preparing", "training", "evaluating")


class JobRunning(OSError):
    """Another distillation job holds the workspace (the CLI reports it like any other OSError)."""


class RunFiles:
    """The run folder's log, metrics and status, written by the main process only."""

    def __init__(self, run: Path, main: bool, on_step: Callable | None):
        self.run, self.main, self.on_step = run, main, on_step

    def log(self, message: str) -> None:
        if self.main:
            with open(self.run / LOG, "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    def metric(self, **row) -> None:
        if self.main:
            with open(self.run / METRICS, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    def status(self, info) -> None:
        """Write `info` (a dataclass: engine.distill.train.StepInfo) to status.json and pass it to on_step."""
        if self.main:
            write_text_atomic(self.run / STATUS, json.dumps({**asdict(info), "pid": os.getpid(), "updated": time.time()}))
            if self.on_step:
                self.on_step(info)

    def truncate_metrics(self, step: int) -> None:
        """Drop metric rows after `step` (written after the checkpoint a resume starts from)."""
        path = self.run / METRICS
        if self.main and path.is_file():
            rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
            write_text_atomic(path, "".join(line + "\n" for line in rows))


def language_ct2(lang: str) -> str:
    """The folder of an experts run's CTranslate2 model for `lang`."""
    return f"{STUDENT_CT2}-{lang}"


def language_models(run: Path) -> dict[str, Path]:
    """{language: its CTranslate2 folder} of an experts run; empty for other runs."""
    prefix = language_ct2("")
    return {p.name[len(prefix):]: p for p in sorted(run.glob(f"{prefix}*")) if (p / "model.bin").is_file()}


def run_dir(ws: Workspace, run: str | Path) -> Path:
    """A bare name → WS/runs/NAME; a path stays a path."""
    run = Path(run)
    return run.expanduser().resolve() if len(run.parts) > 1 else ws.path(RUNS) / run


def _open_lock(ws: Workspace) -> int:
    ws.path(RUNS).mkdir(parents=True, exist_ok=True)
    return os.open(ws.path(RUNS) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(ws: Workspace) -> str:
    with contextlib.suppress(OSError):
        return (ws.path(RUNS) / LOCK).read_text().strip() or "unknown"
    return "unknown"


def _write_holder(fd: int, run: Path) -> None:
    """Name `run` in the lock file: written before the cut, so a reader never sees it empty."""
    data = str(run).encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


@contextlib.contextmanager
def workspace_lock(ws: Workspace, run: Path) -> Iterator[None]:
    """Hold the workspace's job lock for `run` (or the one `start_job` handed down); raise JobRunning
    when another process holds it. A freshly taken lock also clears an old cancel request."""
    inherited = os.environ.pop(LOCK_FD_ENV, None)
    fd = int(inherited) if inherited else _open_lock(ws)
    if not inherited:
        if not _try_lock(fd):
            os.close(fd)
            raise JobRunning(f"a distillation job is already running on this workspace ({_holder(ws)})")
        (run / CANCEL).unlink(missing_ok=True)
    _write_holder(fd, run)
    try:
        yield
    finally:
        os.close(fd)


def running_job(ws: Workspace) -> Path | None:
    """The run a live job is training, or None."""
    if not ws.path(RUNS).is_dir():
        return None
    fd = _open_lock(ws)
    try:
        if _try_lock(fd):
            return None
        return Path(_holder(ws))
    finally:
        os.close(fd)


def start_job(ws: Workspace, run: Path, config_file: Path) -> subprocess.Popen:
    """Start `whisper-curator distill WS --out RUN --config FILE` in the background; raise JobRunning
    when a job is running. The lock is taken here and passed on, so a second click cannot slip in."""
    fd = _open_lock(ws)
    if not _try_lock(fd):
        os.close(fd)
        raise JobRunning(f"a distillation job is already running on this workspace ({_holder(ws)})")
    try:
        run.mkdir(parents=True, exist_ok=True)
        (run / CANCEL).unlink(missing_ok=True)
        _write_holder(fd, run)
        write_text_atomic(run / STATUS, json.dumps({"stage": "starting", "step": 0, "max_steps": 0,
                                                    "message": "starting", "updated": time.time()}))
        command = [sys.executable, "-m", "whisper_curator", "distill", str(ws.root), "--out", str(run), "--config", str(config_file)]
        with open(run / JOB_OUT, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, pass_fds=(fd,),
                                       env={**os.environ, LOCK_FD_ENV: str(fd)}, start_new_session=True)
    finally:
        os.close(fd)  # the job holds its own copy of the locked descriptor
    threading.Thread(target=process.wait, daemon=True).start()  # reap it, so it never lingers as a zombie
    return process


def cancel_job(run: Path) -> None:
    """Ask the job training `run` to stop after its current step (it saves a checkpoint first)."""
    run.mkdir(parents=True, exist_ok=True)
    (run / CANCEL).touch()


def cancel_requested(run: Path) -> bool:
    return (run / CANCEL).exists()


def read_status(ws: Workspace, run: Path) -> dict | None:
    """The run's last status; an active stage whose job died (killed, crashed) reads `interrupted`."""
    try:
        status = json.loads((run / STATUS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if status.get("stage") in ACTIVE_STATES and running_job(ws) != run:
        status["stage"] = "interrupted"
        status["message"] = "the job stopped without finishing; start it again with the same run name to resume"
    return status


def read_metrics(run: Path) -> pd.DataFrame:
    """metrics.jsonl as a table (step, loss, ce, kl, lr, seconds; eval rows have eval_loss)."""
    try:
        return pd.read_json(run / METRICS, lines=True)
    except (FileNotFoundError, ValueError):
        return pd.DataFrame(columns=["step", "loss"])


def log_tail(run: Path, lines: int = 20) -> str:
    """The last lines of the run's log."""
    try:
        return "\n".join((run / LOG).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def list_runs(ws: Workspace) -> list[Path]:
    """Run folders in WS/runs, newest first."""
    if not ws.path(RUNS).is_dir():
        return []
    runs = [p for p in ws.path(RUNS).iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)
