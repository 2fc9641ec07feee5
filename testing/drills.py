"""Crash drills shared by tests/test_drills.py (a few rounds) and benchmarks/reliability.py (many):
`kill -9` of scoring at random moments, of export and recipe saves at random moments and before each
file-system step of the atomic write, a full disk and a read-only workspace.

The writers run as `python -m testing.drills WRITER TARGET ...` so that they can be killed.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.demo import DEMO_MANIFEST
from engine.io.audio import write_audio
from engine.io.export import EXPORT_INFO, NEMO_MANIFEST, export
from engine.io.recipe import Recipe, kept_mask, read_recipe, save_recipe
from engine.io.workspace import RECIPE, SCORES, SHARDS, Clip, Workspace
from testing import ROOT

EXPORT_ROWS = 20_000  # rows of the export workspace: an export takes long enough to be killed inside it
STEPS = ("replace", "rename", "fsync", "rmtree", "mkdtemp")  # what the step drill counts (os / shutil / tempfile)

SHARD_SIZE = 2  # clips per shard in the kill drills: a kill lands between shards


def clean_manifest(folder: Path, n: int) -> Path:
    """A manifest of the first `n` clean demo clips (real and synthetic speech) with absolute paths."""
    rows = [json.loads(line) for line in DEMO_MANIFEST.read_text().splitlines()]
    chosen = [r for r in rows if r["kind"] in ("real", "synthetic")][:n]
    path = folder / "manifest.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({**r, "audio_filepath": str(DEMO_MANIFEST.parent / r["audio_filepath"])}) + "\n"
                            for r in chosen))
    return path


# ---- killing scoring ----

@dataclass
class Kill:
    delay: float  # seconds after the start
    shards_before: int
    shards_after: int
    finished_first: bool  # the run had ended before the kill landed


@dataclass(frozen=True)
class Timing:
    """An uninterrupted run: seconds to its first and its last finished shard, to its end (merge and extra
    scores after the last shard), and its number of shards."""

    first: float
    last: float
    total: float
    shards: int

    @property
    def per_shard(self) -> float:
        return (self.last - self.first) / (self.shards - 1) if self.shards > 1 else self.first / 2

    @property
    def startup(self) -> float:
        """About when a run starts its first shard (imports, model load)."""
        return max(0.0, self.first - self.per_shard)

    @property
    def tail(self) -> float:
        """The merge and extra scores after the last shard."""
        return self.total - self.last


def timed_run(command: list[str], shards: Callable[[], int]) -> Timing:
    """Run `command` to its end, noting when its first and its last shard appear."""
    started, seen = time.perf_counter(), {}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    while process.poll() is None:
        seen.setdefault(shards(), time.perf_counter() - started)
        time.sleep(0.02)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    total = time.perf_counter() - started
    done = shards()
    return Timing(seen.get(1, total), seen.get(done, total), total, done)


def kill_runs(command: list[str], shards: Callable[[], int], kills: int, timing: Timing, rng: random.Random) -> list[Kill]:
    """Start `command` `kills` times and kill each with SIGKILL at a random moment of its share of the work
    left: the shards still to do split evenly over the kills left, then the merge and extra scores."""
    record = []
    for i in range(kills):
        before = shards()
        remaining = timing.shards - before
        if remaining:
            delay = timing.startup + rng.uniform(0, math.ceil(remaining / (kills - i)) * timing.per_shard)
        else:
            delay = rng.uniform(0, timing.tail)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        time.sleep(delay)
        finished = process.poll() is not None
        process.kill()
        process.wait()
        record.append(Kill(delay, before, shards(), finished))
    return record


def unreadable_shards(shard_dir: Path) -> list[str]:
    """Finished shards (tables and embeddings) that do not read back."""
    bad = []
    for table in shard_dir.glob("*.parquet"):
        try:
            pd.read_parquet(table)
            np.load(table.with_suffix(".npy"))
        except Exception as e:
            bad.append(f"{table.name}: {e}")
    return bad


# ---- the writers: recipe saves and exports, killed mid-write ----

def recipe_versions() -> list[Recipe]:
    """Two large recipes (thousands of overrides), so that a save takes long enough to be killed inside it."""
    return [Recipe(overrides={f"clip-{i}": "keep" for i in range(2000)}),
            Recipe(include_flagged=True, combine="any", overrides={f"clip-{i}": "reject" for i in range(1500)})]


def export_versions() -> list[Recipe]:
    return [Recipe(), Recipe().with_bounds("confidence", min=0.5)]


def export_workspace(root: Path, rows: int = EXPORT_ROWS) -> Workspace:
    """A workspace of `rows` scored clips sharing one short audio file (an export reads no audio)."""
    ws = Workspace(root)
    audio = root / "tone.wav"
    root.mkdir(parents=True, exist_ok=True)
    write_audio(audio, np.zeros(1600, np.float32))
    ws.write_clips([Clip(id=f"clip-{i}", audio_filepath=str(audio), duration=1.0) for i in range(rows)])
    rng = np.random.default_rng(0)
    ws.write_scores(pd.DataFrame({
        "id": [f"clip-{i}" for i in range(rows)], "status": "ok", "reason": "",
        "pseudo_label": pd.array([f"label {i}" for i in range(rows)], dtype="string"), "lang": "en",
        "duration": np.ones(rows, np.float32), "confidence": rng.uniform(0, 1, rows).astype(np.float32),
    }))
    return ws


@dataclass(frozen=True)
class Writer:
    """A file (or folder) written atomically, its two versions, and how to tell which one is there."""

    name: str
    target: Callable[[Workspace], Path]
    write: Callable[[Workspace, int], None]  # write version i
    version: Callable[[Workspace], int]  # 0 or 1; raises when the target is missing, partial or corrupt


def _recipe_version(ws: Workspace) -> int:
    recipe, _ = read_recipe(ws)  # raises on a partial file (YAML or recipe error)
    if not ws.path(RECIPE).is_file():
        raise FileNotFoundError(f"{ws.path(RECIPE)} is missing")
    return recipe_versions().index(recipe)  # raises ValueError when it is neither


def _export_version(ws: Workspace) -> int:
    out = ws.root / "export"
    info = json.loads((out / EXPORT_INFO).read_text())
    rows = [json.loads(line) for line in (out / NEMO_MANIFEST).read_text().splitlines()]
    version = export_versions().index(Recipe.from_yaml((out / "recipe.yaml").read_text()))
    table = ws.read_scores()
    kept = table["id"][kept_mask(table, export_versions()[version])].tolist()
    if info["clips"] != len(rows) or [r["id"] for r in rows] != kept:
        raise ValueError(f"export holds {len(rows)} rows, its export.json says {info['clips']}, the recipe keeps {len(kept)}")
    return version


WRITERS = {
    "recipe": Writer("recipe save", lambda ws: ws.path(RECIPE),
                     lambda ws, i: save_recipe(ws, recipe_versions()[i]), _recipe_version),
    "export": Writer("export", lambda ws: ws.root / "export",
                     lambda ws, i: export(ws, export_versions()[i], "nemo", ws.root / "export"), _export_version),
}


def writer_workspace(kind: str, root: Path) -> Workspace:
    """A workspace for writer `kind` holding version 0 of its target."""
    ws = export_workspace(root, EXPORT_ROWS if kind == "export" else 10)
    WRITERS[kind].write(ws, 0)
    return ws


def state(kind: str, ws: Workspace) -> str:
    """"v0" / "v1" for a complete version on disk, else "broken: why"."""
    try:
        return f"v{WRITERS[kind].version(ws)}"
    except Exception as e:
        return f"broken: {type(e).__name__}: {e}"


def temporaries(kind: str, ws: Workspace) -> list[Path]:
    """Leftovers of killed writers beside the target."""
    target = WRITERS[kind].target(ws)
    return [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


def export_command(ws: Workspace, recipe: Path) -> list[str]:
    """The export CLI writing `recipe`'s kept set over the writer workspace's export."""
    return [sys.executable, "-m", "whisper_curator", "export", str(ws.root), "--format", "nemo", "--out", str(ws.root / "export"),
            "--recipe", str(recipe)]


def writer_command(kind: str, ws: Workspace, *extra: str) -> list[str]:
    return [sys.executable, "-m", "testing.drills", kind, str(ws.root), *extra]


def kill_writer_at_random(kind: str, ws: Workspace, max_delay: float, rng: random.Random) -> str:
    """Kill a loop of writes of both versions after a random delay; return the state left."""
    process = subprocess.Popen(writer_command(kind, ws, "--loop"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=ROOT, text=True)
    process.stdout.readline()  # "ready": imports done
    time.sleep(rng.uniform(0, max_delay))
    process.kill()
    process.wait()
    return state(kind, ws)


def kill_writer_at_step(kind: str, ws: Workspace, step: int) -> tuple[str, bool]:
    """Write version 1 over version 0, killed just before file-system step number `step` (1-based);
    return the state left and whether the write got that far (False: it finished first)."""
    done = subprocess.run(writer_command(kind, ws, "--version", "1", "--kill-at", str(step)), cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"the {kind} writer failed: {done.stderr.strip().splitlines()[-1:]}")
    return state(kind, ws), done.returncode == -signal.SIGKILL


def kill_at_every_step(kind: str, ws: Workspace) -> list[str]:
    """Write version 1 over version 0 killed before step 1, then (version 0 restored) before step 2, and so on
    until a write runs through; return the state each attempt left, the last one uncut."""
    states, step, killed = [], 0, True
    while killed:
        step += 1
        state, killed = kill_writer_at_step(kind, ws, step)
        states.append(state)
        if killed:
            WRITERS[kind].write(ws, 0)
    return states


def _kill_before_step(number: int) -> None:
    """Patch the file-system calls an atomic write makes so that call `number` kills this process."""
    import tempfile

    calls = [0]
    for module, name in [(os, "replace"), (os, "rename"), (os, "fsync"), (shutil, "rmtree"), (tempfile, "mkdtemp")]:
        original = getattr(module, name)

        def counted(*args, _original=original, **kwargs):
            calls[0] += 1
            if calls[0] == number:
                os.kill(os.getpid(), signal.SIGKILL)
            return _original(*args, **kwargs)

        setattr(module, name, counted)


def _run_writer(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(WRITERS))
    parser.add_argument("workspace")
    parser.add_argument("--loop", action="store_true", help="write versions 1, 0, 1, ... until killed")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--kill-at", type=int, default=0)
    args = parser.parse_args(argv)
    ws, writer = Workspace(args.workspace), WRITERS[args.kind]
    print("ready", flush=True)
    if args.loop:
        for i in range(1 << 30):
            writer.write(ws, (i + 1) % 2)
    if args.kill_at:
        _kill_before_step(args.kill_at)
    writer.write(ws, args.version)


# ---- full disk and read-only workspace ----

def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


CAN_MOUNT = _can_mount()  # root with mount rights: a real full disk (tmpfs) and a read-only bind mount
# what this machine can stage: a file-size limit always; a full tmpfs with mount rights; a read-only folder with
# mount rights or as a user that file permissions bind (root ignores them)
CONDITIONS = ("file size limit",) + (("full disk",) if CAN_MOUNT else ()) + (
    ("read-only",) if CAN_MOUNT or os.geteuid() != 0 else ())


@dataclass
class Failure:
    """What a command left when its writes failed."""

    returncode: int
    message: str  # the last line it printed on stderr
    changed: list[str]  # files that were there before and changed or vanished
    leftovers: list[str]  # temporaries and unreadable shards left behind


def failed_run(command: list[str], folder: Path, condition: str, room: int) -> Failure:
    """Run `command`, which writes into `folder`, with `folder` under `condition` (see CONDITIONS):
    writes past `room` bytes fail ("file size limit": per file; "full disk": in all, on a tmpfs)."""
    before = snapshot(folder)
    if condition == "file size limit":
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, preexec_fn=_limited_file_size(room))
    elif condition == "full disk":
        with _nearly_full(folder, room):
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    else:
        done = subprocess.run(_read_only(folder, command), capture_output=True, text=True, cwd=ROOT)
        _writable(folder)
    after = snapshot(folder)
    leftovers = [str(p.relative_to(folder)) for p in folder.rglob(".*.tmp")]
    if (folder / "shards").is_dir():
        leftovers += unreadable_shards(folder / "shards")
    lines = done.stderr.strip().splitlines()
    return Failure(done.returncode, lines[-1] if lines else "", sorted(k for k in before if after.get(k) != before[k]),
                   leftovers)


def _limited_file_size(limit: int) -> Callable[[], None]:
    """A preexec_fn: files may not grow past `limit` bytes (writes fail with EFBIG, as on a full disk)."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer instead of failing the write
    return apply


@contextlib.contextmanager
def _nearly_full(folder: Path, room: int) -> Iterator[None]:
    """`folder` moved onto a tmpfs with `room` bytes free for the duration; what is there afterwards comes back."""
    saved = folder.with_name(folder.name + ".saved")
    folder.rename(saved)
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)], check=True)
    try:
        shutil.copytree(saved, folder, dirs_exist_ok=True, symlinks=True)
        stat = os.statvfs(folder)
        (folder / ".filler").write_bytes(bytes(max(0, stat.f_bavail * stat.f_frsize - room)))
        yield
        (folder / ".filler").unlink()
        shutil.rmtree(saved)
        shutil.copytree(folder, saved, symlinks=True)
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()
        saved.rename(folder)


def _read_only(folder: Path, command: list[str]) -> list[str]:
    """`command` with `folder` read-only: a bind mount in a private mount namespace (root), else no write bits."""
    if CAN_MOUNT:
        return ["unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder), *command]
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o555)
    return command


def _writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-1 of every file under `folder`, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def partly_scored(complete: Path, target: Path, keep_shards: int) -> Path:
    """A copy of a scored workspace cut back to its first `keep_shards` shards, as a killed run leaves it."""
    shutil.copytree(complete, target)
    (target / SCORES).unlink()
    for shard in sorted((target / "shards").glob("*.parquet"))[keep_shards:]:
        shard.unlink()
        shard.with_suffix(".npy").unlink()
    return target


def shard_room(workspace: Path) -> int:
    """Half the smallest finished shard table: room for a shard's embeddings, not for its table."""
    return min(p.stat().st_size for p in (workspace / "shards").glob("*.parquet")) // 2


if __name__ == "__main__":
    _run_writer(sys.argv[1:])


def score_command(manifest: Path, workspace: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "whisper_curator", "score", str(manifest), "--workspace", str(workspace),
            "--shard-size", str(SHARD_SIZE), "--threads", "1", "--batch-size", "2", *extra]


def finished_shards(workspace: Path) -> list[Path]:
    return sorted((workspace / SHARDS).glob("*.parquet"))
