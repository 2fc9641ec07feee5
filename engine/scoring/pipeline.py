"""Scoring pipeline: input → workspace manifest → shards of teacher outputs and scores → scores.parquet.

Work is cut into shards of consecutive manifest rows; each finished shard is renamed into
`shards/` atomically, so a rerun after a crash skips it and the merged table is the same as an
uninterrupted run's. Ranks (`num_shards`/`shard_index`) take every n-th shard; whoever finishes
the last shard merges, then adds the extra scores and makes the map (`score_workspace`, the `score` command).
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.analysis.mapping import update_map
from engine.extras import EXTRAS, ExtraOptions, extra_names
from engine.extras.proxy import unread_languages_note
from engine.extras.vad import frame_speech_probs
from engine.io.atomic import write_text_atomic
from engine.io.audio import MAX_SECONDS, MIN_SECONDS, Audio, AudioError, load_audio, usability_problem
from engine.io.ingest import read_input
from engine.io.progress import Progress, progress_bar
from engine.io.workspace import EMBEDDINGS, MANIFEST, SHARDS, Clip, Workspace, write_array_atomic
from engine.scores import computed_from, reference_wer
from engine.scores.inputs import AUDIO, TEACHER, AudioPass, TeacherPass
from engine.scoring.extras import SAMPLING_GROUP, add_scores, merge_extras, write_sampled
from engine.scoring.shards import Shards, plan_shards, run_shards, write_shard
from engine.teacher import load_teacher
from engine.teacher.base import Teacher
from engine.teacher.options import TeacherOptions, TeacherOutput

PLAN = "plan.json"  # the shard file names of the current manifest, in order
CLIPPED_SHARE = 0.01  # flag clips with more than 1 % of samples at full scale
NEAR_SILENT_DB = -60.0  # flag clips quieter than this RMS level


@dataclass(frozen=True)
class ScoreOptions:
    shard_size: int = 256  # clips per shard: the unit of resumption
    num_shards: int = 1  # number of ranks scoring this workspace
    shard_index: int = 0  # this rank
    io_threads: int = 2  # audio decoding threads

    def __post_init__(self) -> None:
        if not 0 <= self.shard_index < self.num_shards:
            raise ValueError(f"shard index {self.shard_index} is outside 0..{self.num_shards - 1}")
        if self.shard_size < 1:
            raise ValueError("shard size must be at least 1")


@dataclass
class Summary:
    clips: int
    status_counts: dict[str, int]
    audio_seconds: float
    wall_seconds: float
    merged: bool

    def line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.status_counts.items())
        speed = self.audio_seconds / self.wall_seconds if self.wall_seconds else float("nan")
        where = "scores.parquet written" if self.merged else "waiting for other ranks before merging"
        return (f"{self.clips} clips ({counts}); {self.audio_seconds / 3600:.2f} h of audio scored in "
                f"{self.wall_seconds:.1f} s (RTFx {speed:.1f}); {where}")


def ingest(source: str | Path, ws: Workspace) -> list[Clip]:
    """Read `source` into the workspace manifest (rewritten only when it changed); `source` may
    be the workspace itself, to resume or add scores."""
    if ws.exists and Path(source).expanduser().resolve() in (ws.root, ws.path(MANIFEST)):
        return ws.read_clips()
    clips = read_input(source, ws.path("audio"))
    if not clips:
        raise ValueError(f"no audio clips found in {source}")
    if not ws.exists or [c.to_dict() for c in ws.read_clips()] != [c.to_dict() for c in clips]:
        ws.write_clips(clips)
    return clips


def teacher_shards(ws: Workspace, clips: list[Clip], options: ScoreOptions, teacher: TeacherOptions) -> Shards:
    """The teacher pass's shards; the names hash the clips, the teacher and the scores computed in the pass."""
    scores = [c for needs in (TEACHER, AUDIO) for m in computed_from(needs) for c in m.COLUMNS]  # a new score rescores
    fingerprint = json.dumps([teacher.teacher, teacher.task, teacher.max_label_tokens, teacher.window, scores])
    return plan_shards(ws.path(SHARDS), fingerprint, [c.id for c in clips], options.shard_size)


def score(
    source: str | Path,
    workspace: str | Path,
    teacher_options: TeacherOptions = TeacherOptions(),
    options: ScoreOptions = ScoreOptions(),
    progress: Progress | None = None,
) -> Summary:
    """Score every clip of `source` into `workspace`, resuming from finished shards."""
    started = time.perf_counter()
    ws = Workspace(workspace)
    clips = ingest(source, ws)
    shards = teacher_shards(ws, clips, options, teacher_options)
    paths = shards.paths
    plan = ws.path(SHARDS) / PLAN
    if not plan.is_file() or json.loads(plan.read_text()) != [p.name for p in paths]:
        write_text_atomic(plan, json.dumps([p.name for p in paths]))
    mine = shards.mine(options.num_shards, options.shard_index)
    todo = shards.pending(options.num_shards, options.shard_index)
    audio_seconds = 0.0
    teacher = load_teacher(teacher_options) if todo else None

    def work(i: int, on_rows: Callable[[int], None]) -> None:
        nonlocal audio_seconds
        table, embeddings, sampled = score_clips(clips[shards.span(i)], teacher, options.io_threads,
                                                 teacher_options.batch_size, on_rows)
        if teacher_options.samples:
            write_sampled(paths[i], sampled_fingerprint(teacher_options), sampled)
        write_shard(paths[i], table, {".npy": embeddings})
        audio_seconds += float(table.loc[table["pseudo_label"].notna(), "duration"].sum())

    run_shards(shards, todo, mine, work, progress)
    merged = shards.done()
    if merged:
        merge_shards(ws, paths)
    table = pd.concat([pd.read_parquet(paths[i]) for i in mine if paths[i].is_file()]) if mine else pd.DataFrame()
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    return Summary(len(table), counts, audio_seconds, time.perf_counter() - started, merged)


def sampled_fingerprint(teacher: TeacherOptions) -> str:
    """The fingerprint of the sampling group that the teacher pass's samples stand in for."""
    return EXTRAS[SAMPLING_GROUP].fingerprint(ExtraOptions(teacher=teacher.teacher, window=teacher.window,
                                                           task=teacher.task, samples=teacher.samples,
                                                           temperature=teacher.temperature))


def sampling_pass(teacher: TeacherOptions, extras: list[str], options: ExtraOptions) -> TeacherOptions:
    """`teacher`, sampling for the sampling group in its own pass when `extras` ask for it and it would sample as the
    group does (CTranslate2, the same teacher, window and task); otherwise the group encodes once more."""
    same = (options.teacher, options.window, options.task) == (teacher.teacher, teacher.window, teacher.task)
    if SAMPLING_GROUP not in extras or teacher.backend != "ct2" or not same:
        return teacher
    return replace(teacher, samples=options.samples, temperature=options.temperature)


def score_workspace(
    source: str | Path,
    workspace: str | Path,
    teacher_options: TeacherOptions = TeacherOptions(),
    options: ScoreOptions = ScoreOptions(),
    add: str = "default",
    extra_options: ExtraOptions = ExtraOptions(),
    make_map: bool = True,
    bars: Callable[..., contextlib.AbstractContextManager[Progress]] = progress_bar,
) -> Iterator[str]:
    """The `score` command: `score` the clips, and once scores.parquet is merged add the score groups that
    `add` names (`extra_names`) and make the map unless it is current. Yields a line as each step ends;
    `bars(description, unit=...)` gives each step its progress callback."""
    extras = extra_names(add)
    rank = f" (rank {options.shard_index}/{options.num_shards})" if options.num_shards > 1 else ""
    with bars(f"scoring with the teacher{rank}") as progress:
        summary = score(source, workspace, sampling_pass(teacher_options, extras, extra_options), options, progress)
    yield summary.line()
    if not summary.merged:
        return
    if extras:
        with bars(f"adding label-free scores ({', '.join(extras)})") as progress:
            table = add_scores(workspace, extras, extra_options, options.shard_size, progress=progress)
        yield f"added {', '.join(extras)} to {int(table['pseudo_label'].notna().sum())} labelled clips"
        note = unread_languages_note(table) if "proxy" in extras else None
        if note:
            yield note
    if make_map:
        with bars("mapping", unit="step") as progress:
            line = update_map(Workspace(workspace), progress)
        yield line


def merge_workspace(workspace: str | Path) -> pd.DataFrame:
    """Merge the shards that ranks wrote into scores.parquet; refuses while any is missing."""
    ws = Workspace(workspace)
    plan = ws.path(SHARDS) / PLAN
    if not plan.is_file():
        raise FileNotFoundError(f"{ws.root} has no shard plan; run `whisper-curator score` first")
    paths = [ws.path(SHARDS) / name for name in json.loads(plan.read_text())]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} of {len(paths)} shards are not finished yet (first: {missing[0]})")
    return merge_shards(ws, paths)


def merge_shards(ws: Workspace, paths: list[Path]) -> pd.DataFrame:
    """Concatenate shards in manifest order into scores.parquet and embeddings/audio.npy."""
    table = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    parts = [np.load(p.with_suffix(".npy")) for p in paths]
    dim = max(part.shape[1] for part in parts)  # a shard the teacher never ran on has width 0
    embeddings = np.concatenate([part if part.shape[1] == dim else np.full((len(part), dim), np.nan, np.float16)
                                 for part in parts])
    write_array_atomic(ws.path(EMBEDDINGS) / "audio.npy", embeddings)
    return merge_extras(ws, table)


def _load(clip: Clip) -> Audio | str:
    if clip.problem:
        return clip.problem
    try:
        return load_audio(clip.audio_filepath)
    except AudioError as e:
        return str(e)
    except Exception as e:  # a decoder crash on one file must not stop the run
        return f"cannot read audio: {type(e).__name__}: {e}"


def score_clips(
    clips: list[Clip],
    teacher: Teacher,
    io_threads: int = 2,
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, list[str]]]:
    """Teacher pass and scores for a list of clips → (table in clip order, (N, d) float16 embeddings, clip id →
    the transcripts the teacher sampled, for the clips it labelled when it samples)."""
    with ThreadPoolExecutor(max(1, io_threads)) as pool:
        loaded = list(pool.map(_load, clips))
        audios = {i: a for i, a in enumerate(loaded) if isinstance(a, Audio)}
        vad = dict(zip(audios, pool.map(frame_speech_probs, [a.samples for a in audios.values()])))
    runnable = [i for i, a in audios.items() if MIN_SECONDS <= a.duration <= MAX_SECONDS]
    runnable.sort(key=lambda i: -audios[i].duration)  # similar lengths share a batch
    outputs: dict[int, TeacherOutput] = {}
    for start in range(0, len(runnable), batch_size):
        batch = runnable[start : start + batch_size]
        results = teacher.run([audios[i].samples for i in batch], [clips[i].lang for i in batch])
        outputs.update(zip(batch, results))
        if on_batch:
            on_batch(len(outputs))
    table = _table(clips, loaded, outputs, vad)
    dim = next(iter(outputs.values())).embedding.shape[0] if outputs else 0
    embeddings = np.full((len(clips), dim), np.nan, dtype=np.float16)
    for i, out in outputs.items():
        embeddings[i] = out.embedding
    sampled = {clips[i].id: out.samples for i, out in outputs.items() if out.samples is not None}
    return table, embeddings, sampled


def _table(clips: list[Clip], loaded: list[Audio | str], outputs: dict[int, TeacherOutput],
           vad: dict[int, np.ndarray]) -> pd.DataFrame:
    labelled = [outputs.get(i) for i in range(len(clips))]
    durations = np.array([a.duration if isinstance(a, Audio) else (c.duration or np.nan)
                          for a, c in zip(loaded, clips)], dtype=np.float32)
    table = pd.DataFrame({
        "id": [c.id for c in clips],
        "status": "ok",
        "reason": "",
        "pseudo_label": pd.array([o.text if o else None for o in labelled], dtype="string"),
        "lang": [o.lang if o else c.lang for o, c in zip(labelled, clips)],
        "duration": durations,
    })
    teacher_rows = [i for i, o in enumerate(labelled) if o]
    teacher_columns = _on_rows(teacher_rows, len(clips), lambda rows: _computed(TEACHER, TeacherPass(
        [labelled[i] for i in rows], [clips[i].lang for i in rows], durations[rows])))
    audio_columns = _on_rows(sorted(vad), len(clips), lambda rows: _computed(AUDIO, AudioPass(
        [loaded[i].samples for i in rows], [vad[i] for i in rows])))
    table = table.assign(**teacher_columns, **audio_columns)
    if any(c.text is not None for c in clips):
        refs = [c.text if o else None for c, o in zip(clips, labelled)]
        hyps = [o.text if o else "" for o in labelled]
        table["wer"] = reference_wer.wer(refs, hyps, list(table["lang"]))
        table["cer"] = reference_wer.cer(refs, hyps, list(table["lang"]))
    missing = pd.Series(np.nan, index=table.index)  # a shard of unreadable clips has no audio columns
    table[["status", "reason"]] = [_status(item, out, clip_share, level) for item, out, clip_share, level in
                                   zip(loaded, labelled, table.get("clipping", missing), table.get("rms_db", missing))]
    return table


def _computed(needs: str, inputs: TeacherPass | AudioPass) -> dict[str, np.ndarray]:
    """Every registry score computed from `inputs` (the teacher pass or the audio)."""
    return {name: values for module in computed_from(needs) for name, values in module.compute(inputs).items()}


def _on_rows(rows: list[int], n: int, compute: Callable[[list[int]], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Columns of length n computed on `rows` only; other rows are NaN (None for text columns)."""
    if not rows:
        return {}
    columns = {}
    for name, values in compute(rows).items():
        values = np.asarray(values)
        full = np.full(n, None if values.dtype == object else np.nan, dtype=object if values.dtype == object else np.float32)
        full[rows] = values
        columns[name] = full
    return columns


def _status(item: Audio | str, out: TeacherOutput | None, clipped: float, level_db: float) -> tuple[str, str]:
    """ok, flagged (usable input with a problem worth a look) or error (could not be processed)."""
    if isinstance(item, str):
        return "error", item
    problems = [p for p in [usability_problem(item)] if p]
    if clipped > CLIPPED_SHARE:
        problems.append(f"clipped: {clipped:.1%} of samples at full scale")
    if level_db < NEAR_SILENT_DB and not problems:
        problems.append(f"near-silent ({level_db:.0f} dBFS)")
    if out is not None and out.hit_limit:
        problems.append(f"label hit the {len(out.tokens)}-token limit (usually a repetition loop)")
    if out is not None and out.emptied:
        problems.append("no speech: the teacher's no-speech rule emptied the label")
    return ("flagged", "; ".join(problems)) if problems else ("ok", "")
