"""Reliability drills, long form, and docs/reliability.md written from the run:

  - the bad-input corpus (tests/bad_inputs.py) as a manifest and as a folder, with the real teacher;
  - kill -9 of `score` at random moments, many times in a row on one workspace, then resume;
  - kill -9 of export and recipe saves at random moments and before each file-system step;
  - full disk (file-size limit; a nearly full tmpfs when root) and read-only workspace, for score and export;
  - the served app: hostile file requests, upload limit, --host without --auth.

    python benchmarks/reliability.py [--kills 10] [--rounds 2] [--writer-kills 20] [--clips 24] [--markdown docs/reliability.md]

tests/test_bad_input.py, test_drills.py and test_server.py run the same drills in a small form.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, when run as a script

from engine.io.workspace import SCORES, SHARDS  # noqa: E402
from testing import (
    ROOT,  # noqa: E402
    drills,  # noqa: E402
)
from testing.bad_inputs import (  # noqa: E402
    good_rows_difference,
    row_problem,
    scored,
    write_corpus,  # noqa: E402
)
from testing.drills import finished_shards, score_command  # noqa: E402

FAST = ("--window", "fit", "--shard-size", "1")
FAILURE_CLIPS = 6  # clips in the full-disk and read-only drills
Row = tuple[str, str, str]  # drill, outcome, detail


def bad_input(scratch: Path) -> tuple[list[Row], list[Row]]:
    """One row per case (its status and reason as a manifest row and as a file in a folder) and the totals."""
    corpus = write_corpus(scratch / "corpus")
    runs = {name: scored(source, scratch / name) for name, source in [
        ("manifest", corpus.manifest), ("folder", corpus.audio), ("good", corpus.good_manifest),
        ("good-paths", corpus.good_paths_manifest)]}
    outcome: dict[str, dict[str, str]] = {c.name: {} for c in corpus.cases}
    passed = Counter()
    manifest_table, folder_table = runs["manifest"][1], runs["folder"][1]
    pairs = [("manifest", row, case) for (_, row), case in zip(manifest_table.iterrows(), corpus.rows) if case]
    pairs += [("folder", row, corpus.folder_case(row["audio_filepath"])) for _, row in folder_table.iterrows()]
    for form, row, case in pairs:
        if case is None:
            continue
        problem = row_problem(row, case)
        passed[form] += problem is None
        mark = "" if problem is None else " ✗ (expected " + case.expect + ")"
        outcome[case.name][form] = f"{row['status']}{mark}" + (f": {row['reason']}" if row["reason"] else "")
    cases = [(c.name, outcome[c.name].get("manifest", ""), outcome[c.name].get("folder", "n/a (manifest only)"))
             for c in corpus.cases]
    identical = 0
    for run, reference in [("manifest", "good"), ("folder", "good-paths")]:
        difference = good_rows_difference(runs[run], runs[reference])
        identical += difference is None
        if difference:
            print(f"good rows of the {run} run differ: {difference}")
    in_folder = sum(c.in_folder for c in corpus.cases)
    totals = [
        ("bad-input corpus as a manifest", f"{passed['manifest']}/{len(corpus.cases)} as expected",
         f"{len(manifest_table)} rows, run completed: {runs['manifest'][0].merged}"),
        ("bad-input corpus as a folder", f"{passed['folder']}/{in_folder} as expected",
         f"{len(folder_table)} rows (a non-audio file skipped), run completed: {runs['folder'][0].merged}"),
        ("good rows vs a run without the bad ones", f"{identical}/2 identical",
         "manifest and folder; every column but the dataset-relative `combined`, plus the embeddings' rows"),
    ]
    return cases, totals


def score_kills(scratch: Path, kills: int, rounds: int, clips: int, rng: random.Random) -> list[Row]:
    manifest = drills.clean_manifest(scratch, clips)
    reference_ws = scratch / "reference"
    timing = drills.timed_run(score_command(manifest, reference_ws, *FAST), lambda: len(finished_shards(reference_ws)))
    reference = pd.read_parquet(reference_ws / SCORES)
    identical, record, unreadable = 0, [], 0
    for r in range(rounds):
        workspace = scratch / f"round-{r}"
        command = score_command(manifest, workspace, *FAST)
        for kill in drills.kill_runs(command, lambda: len(finished_shards(workspace)), kills, timing, rng):
            record.append(kill)
        unreadable += len(drills.unreadable_shards(workspace / SHARDS))
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        identical += pd.read_parquet(workspace / SCORES).equals(reference)
    teacher = sum(k.shards_before < timing.shards and not k.finished_first for k in record)
    tail = sum(k.shards_before == timing.shards and not k.finished_first for k in record)
    new_shards = sum(k.shards_after - k.shards_before for k in record)
    return [(f"kill -9 × {kills} in a row during `score`, then resume ({rounds} rounds, {clips} clips, 1 per shard)",
             f"{identical}/{rounds} identical", f"{len(record)} kills: {teacher} during the teacher pass (they let "
             f"{new_shards} shards finish), {tail} during the merge and extra scores, {len(record) - teacher - tail} "
             f"after the run had ended; unreadable shards: {unreadable}; uninterrupted run {timing.total:.0f} s")]


def writer_kills(scratch: Path, kills: int, rng: random.Random) -> list[Row]:
    rows = []
    for kind, writer in drills.WRITERS.items():
        ws = drills.writer_workspace(kind, scratch / f"{kind}-random")
        states = Counter(drills.kill_writer_at_random(kind, ws, 2.0, rng) for _ in range(kills))
        stale = len(drills.temporaries(kind, ws))
        writer.write(ws, 1)
        ok = states["v0"] + states["v1"]
        rows.append((f"kill -9 × {kills} during {writer.name} (a loop writing two versions, random moment)",
                     f"{ok}/{kills} old or new, never partial",
                     f"{states['v0']} × version 0, {states['v1']} × version 1, other: {kills - ok}; "
                     f"{stale} killed writers' temporaries, {len(drills.temporaries(kind, ws))} after the next write"))
        outcomes = drills.kill_at_every_step(kind, drills.writer_workspace(kind, scratch / f"{kind}-steps"))
        step = len(outcomes)
        good = sum(s in ("v0", "v1") for s in outcomes)
        rows.append((f"kill -9 before each file-system step of {writer.name} ({step - 1} steps, then uncut)",
                     f"{good}/{step} old or new", " → ".join(outcomes)))
    return rows


def failures(scratch: Path, clips: int, rounds: int, rng: random.Random) -> list[Row]:
    manifest = drills.clean_manifest(scratch, clips)
    complete = scratch / "complete"
    subprocess.run(score_command(manifest, complete, *FAST), check=True, capture_output=True, cwd=ROOT)
    reference = pd.read_parquet(complete / SCORES)
    rows = []
    for condition in drills.CONDITIONS:
        results = []
        for r in range(rounds if condition != "read-only" else 1):
            workspace = drills.partly_scored(complete, scratch / f"{condition}-{r}".replace(" ", "-"),
                                             keep_shards=rng.randrange(1, clips))
            room = rng.randrange(1, 3) * drills.shard_room(workspace)  # a random amount of room
            command = score_command(manifest, workspace, *FAST)
            failure = drills.failed_run(command, workspace, condition, room)
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
            results.append((failure, pd.read_parquet(workspace / SCORES).equals(reference)))
        rows.append(_failure_row(f"`score` with a {condition}" if condition != "read-only" else "`score` on a "
                                 "read-only workspace", results, "resumed to the same table"))
    for condition in drills.CONDITIONS:
        ws = drills.writer_workspace("export", scratch / f"export-{condition}".replace(" ", "-"))
        recipe = scratch / "recipe.yaml"
        recipe.write_text(drills.export_versions()[1].to_yaml())
        failure = drills.failed_run(drills.export_command(ws, recipe), ws.root, condition, room=64_000)
        rows.append(_failure_row(f"`export` with a {condition}" if condition != "read-only" else "`export` into a "
                                 "read-only folder", [(failure, drills.state("export", ws) == "v0")],
                                 "previous export intact"))
    return rows


def _failure_row(name: str, results: list, kept: str) -> Row:
    clean = sum(f.returncode == 1 and f.message.count("\n") == 0 and not f.changed and not f.leftovers and ok
                for f, ok in results)
    messages = sorted({f.message.split(": ", 1)[1].split(":")[0] for f, _ in results if ": " in f.message})
    return (name, f"{clean}/{len(results)} exit 1, one sentence, nothing changed, {kept}",
            f"e.g. `{results[0][0].message}`; errors: {', '.join(messages)}")


def server(scratch: Path) -> list[Row]:
    import httpx

    from testing.browser import free_port, served
    from testing.server import SECRET, get, hostile_paths, hostile_workspace, serve_command

    ws, secret = hostile_workspace(scratch)
    with served(ws.root) as url:
        statuses = Counter()
        leaked = []
        paths = hostile_paths(url, ws, secret)
        for path in paths:
            status, body = get(url, path)
            statuses[status] += 1
            if status == 200 or SECRET.encode() in body or b"root:" in body:
                leaked.append(path)
        upload = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.wav", b"0" * 2_000_000)}).status_code
    refused = subprocess.run(serve_command(ws, free_port(), "--host", "0.0.0.0"), capture_output=True, text=True,
                             cwd=ROOT, timeout=120)
    return [
        ("file requests for paths outside Gradio's cache (absolute, `..`, encoded, symlinks, file://, URLs, "
         "/etc/passwd and symlinked manifest rows) against the served app",
         f"{len(paths) - len(leaked)}/{len(paths)} refused", ", ".join(f"{n} × {s}" for s, n in sorted(statuses.items()))),
        ("2 MB upload to /gradio_api/upload (the app has no upload component)", f"HTTP {upload}",
         "limit 1 MB (Gradio's max_file_size)"),
        ("`serve --host 0.0.0.0` without --auth", f"exit {refused.returncode}", f"`{refused.stderr.strip()}`"),
    ]


DISTILL_TESTS = {  # tests/test_distill.py (another issue's), when it exists: what each shows
    "test_resume_after_kill_continues_from_the_last_checkpoint": "kill -9 during `distill`, then resume: continues "
                                                                 "from the last checkpoint",
    "test_training_lowers_the_loss": "the resumed run's loss curve goes on down",
    "test_student_runs_in_the_transformers_pipeline": "the final student loads (transformers pipeline)",
    "test_a_second_job_on_the_workspace_is_refused": "one distillation job at a time per workspace",
}
SESSION_TESTS = {
    "test_two_browser_sessions_saving_one_recipe_see_each_others_saves": "two browser sessions saving one recipe: "
    "the second save says the file changed since it loaded (last writer wins, with a notice)",
}


def pytest_drills(test: Path, described: dict[str, str]) -> list[Row]:
    """Run the tests of `test` named in `described` (those that exist) and report each."""
    names = [n for n in described if test.is_file() and f"def {n}(" in test.read_text()]
    if not names:
        return []
    done = subprocess.run([sys.executable, "-m", "pytest", str(test), "-q", "-rA", "-p", "no:cacheprovider",
                           "-k", " or ".join(names)], capture_output=True, text=True, cwd=ROOT)
    outcome = {line.split("::")[-1].split()[0]: line.split()[0] for line in done.stdout.splitlines()
               if line.startswith(("PASSED", "FAILED", "ERROR"))}
    return [(described[n], outcome.get(n, "did not run").lower(), f"{test.relative_to(ROOT)}::{n}") for n in names]


def markdown(sections: dict[str, list[Row]], cases: list[Row], args: argparse.Namespace, seconds: float) -> str:
    staged = "root: tmpfs and bind mounts" if drills.CAN_MOUNT else "file-size limit and file permissions"
    lines = ["# Reliability", "",
             f"Generated by `python benchmarks/reliability.py --kills {args.kills} --rounds {args.rounds} "
             f"--writer-kills {args.writer_kills} --clips {args.clips} --markdown docs/reliability.md` "
             f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, {platform.system()}, {staged}; "
             f"{seconds / 60:.0f} min). The test suite runs the same drills in a small form "
             "(tests/test_bad_input.py, tests/test_drills.py, tests/test_server.py).", ""]
    for title, rows in sections.items():
        if rows:
            lines += [f"## {title}", "", "| drill | outcome | detail |", "| --- | --- | --- |"]
            lines += [f"| {d} | {o} | {x.replace('|', '/')} |" for d, o, x in rows] + [""]
    lines += ["## Bad input, case by case", "", "Expected status per case: tests/bad_inputs.py. `n/a`: only a manifest "
              "can hold it.", "", "| case | as a manifest row | as a file in a folder |", "| --- | --- | --- |"]
    lines += [f"| {name} | {m} | {f} |" for name, m, f in cases]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10, help="kill -9 in a row during scoring, per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of scoring kills; full-disk rounds")
    parser.add_argument("--writer-kills", type=int, default=20, help="kill -9 at random moments per writer")
    parser.add_argument("--clips", type=int, default=24, help="clean demo clips in the scoring kill drill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", default=None, help="write the report here (e.g. docs/reliability.md)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        scratch = Path(tmp)
        steps = {"bad input": lambda: bad_input(scratch / "bad"),
                 "kills": lambda: score_kills(scratch / "kills", args.kills, args.rounds, args.clips, rng)
                 + writer_kills(scratch / "writers", args.writer_kills, rng)
                 + pytest_drills(ROOT / "tests" / "test_distill.py", DISTILL_TESTS),
                 "failures": lambda: failures(scratch / "failures", FAILURE_CLIPS, args.rounds, rng),
                 "server": lambda: server(scratch / "server")
                 + pytest_drills(ROOT / "tests" / "test_server.py", SESSION_TESTS)}
        results = {}
        for name, run in steps.items():
            print(f"{name}...", flush=True)
            results[name] = run()
            print(*results[name], sep="\n", flush=True)
    text = markdown(sections(results), results["bad input"][0], args, time.perf_counter() - started).replace(tmp, "$TMP")
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")


def sections(results: dict) -> dict[str, list[Row]]:
    return {"Bad input": results["bad input"][1], "Crash drills": results["kills"],
            "Full disk and read-only": results["failures"], "Server": results["server"]}


if __name__ == "__main__":
    main()
