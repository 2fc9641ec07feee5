"""The bad-input corpus (tests/bad_inputs.py) scored with the real teacher, as a manifest and as a plain folder:
every case ends as a row with the expected status and a readable reason, the run completes, and the good
rows are identical to a run without the bad ones."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.io.ingest import read_input
from engine.scoring.pipeline import Summary
from testing.bad_inputs import Corpus, good_rows_difference, row_problem, scored, write_corpus

# a batch of one and a window fitted to the clip: a clip's label never depends on its neighbours
LOSSLESS = ("24-bit WAV", "float WAV", "flac")  # the same samples as the good clip they were made from


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return write_corpus(tmp_path_factory.mktemp("bad-corpus"))


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory) -> dict[str, tuple[Summary, pd.DataFrame, np.ndarray]]:
    root = tmp_path_factory.mktemp("runs")
    sources = {"manifest": corpus.manifest, "folder": corpus.audio, "good": corpus.good_manifest,
               "good paths": corpus.good_paths_manifest}
    return {name: scored(source, root / name.replace(" ", "-")) for name, source in sources.items()}


def test_every_manifest_case_ends_as_a_row_with_a_readable_reason(corpus, runs):
    summary, table, _ = runs["manifest"]
    assert summary.merged and summary.clips == len(corpus.rows) == len(table)
    for (_, row), case in zip(table.iterrows(), corpus.rows):
        if case is None:
            assert row["status"] == "ok" and row["id"].startswith("good-")
        else:
            assert (problem := row_problem(row, case)) is None, problem


def test_every_folder_case_ends_as_a_row_and_other_files_are_skipped(corpus, runs):
    summary, table, _ = runs["folder"]
    folder_cases = [c for c in corpus.cases if c.in_folder]
    assert summary.merged and len(table) == len(folder_cases) + 3  # + the good clips; notes.txt is skipped
    matched = {}
    for _, row in table.iterrows():
        case = corpus.folder_case(row["audio_filepath"])
        if case is None:
            assert row["status"] == "ok", row["audio_filepath"]
        else:
            assert (problem := row_problem(row, case)) is None, problem
            matched[case.name] = row["status"]
    assert set(matched) == {c.name for c in folder_cases}


@pytest.mark.parametrize("run, reference", [("manifest", "good"), ("folder", "good paths")])
def test_good_rows_are_identical_to_a_run_without_the_bad_ones(runs, run, reference):
    assert (difference := good_rows_difference(runs[run], runs[reference])) is None, difference
    assert len(runs[reference][1]) == 3


def test_lossless_variants_read_as_the_same_speech(corpus, runs):
    _, table, _ = runs["manifest"]
    labels = {case.name: row["pseudo_label"] for (_, row), case in zip(table.iterrows(), corpus.rows) if case}
    source = table.loc[table["id"] == "good-2", "pseudo_label"].item()
    assert all(labels[name] == source for name in LOSSLESS), labels


def test_ids_of_bad_manifest_lines_do_not_depend_on_the_working_directory(corpus, tmp_path, monkeypatch):
    first = [c.id for c in read_input(corpus.manifest, tmp_path)]
    monkeypatch.chdir(tmp_path)
    assert [c.id for c in read_input(corpus.manifest, tmp_path)] == first
