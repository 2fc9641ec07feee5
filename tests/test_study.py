"""The evidence study's own logic (benchmarks/study.py) on a synthetic validation: which students it
distils, what the generated report says, and when a finished evaluation is reused."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from engine.analysis.validate import validate
from tests.conftest import ROOT, dummy_workspace

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import study  # noqa: E402

STUDENTS = ["all pseudo-labels", "label-free combined", "best single label-free (proxy_wer)", "WER oracle"]


@pytest.fixture
def validation():
    """60 clips: proxy_wer tracks the reference WER closely, confidence and avg_logprob loosely, combined in between."""
    rng = np.random.default_rng(0)
    wer = rng.uniform(0, 0.6, 60)
    return validate(pd.DataFrame({
        "id": [f"c{i}" for i in range(60)], "status": ["ok"] * 55 + ["flagged"] * 5,
        "pseudo_label": ["a label"] * 60, "duration": rng.uniform(1, 10, 60), "wer": wer,
        "proxy_wer": wer + rng.normal(0, 0.05, 60), "confidence": 1 - wer + rng.normal(0, 0.3, 60),
        "avg_logprob": -wer + rng.normal(0, 0.2, 60), "combined": 1 - wer + rng.normal(0, 0.1, 60),
        "combined_tuned": 1 - wer + rng.normal(0, 0.1, 60),
    }))


def test_students_are_no_filter_combined_the_best_single_score_and_the_oracle(validation):
    recipes = study.student_recipes(validation, 70)
    assert list(recipes) == STUDENTS
    assert recipes["all pseudo-labels"].keep_best is None and recipes["all pseudo-labels"].include_flagged
    assert [(r.keep_best.column, r.keep_best.percent) for r in list(recipes.values())[1:]] == [
        ("combined", 70), ("proxy_wer", 70), ("wer", 70)]


def test_report_states_the_findings_from_the_tables(validation, tmp_path):
    students = pd.DataFrame({"student": ["teacher", *STUDENTS], "wer": [0.3, 0.9, 0.5, 0.45, 0.4],
                             "wer_english": [0.2, 0.8, 0.4, 0.35, 0.3], "rtfx": 5.0, "parameters_m": 50.0,
                             "kept_clips": [np.nan, 60, 42, 42, 42]})
    corpus = {"counts": {"pool": {"clean": 50, "noise_white": 10}, "test": {"clean": 12}}}
    text = study.report("python benchmarks/study.py --out X", corpus, validation, validation, students, 70, 150, 4,
                        {"corpus": 12.0}, tmp_path / "study")
    best = validation.table.drop([study.ORACLE, study.NO_FILTER])["kept_wer@70%"].idxmin()
    assert best == "proxy_wer" and f"at 70 % retention: **proxy_wer** ({validation.table.loc[best, 'kept_wer@70%']:.3f})" in text
    assert "WER oracle 0.300" in text and "4 of the teacher's 6 decoder layers" in text and "150 steps" in text
    for section in ("## Findings", "## Corpus", "flagged clips left out", "## Students", "## Timings", "study/students.png"):
        assert section in text


def test_a_finished_evaluation_is_reused_until_a_student_changes(tmp_path, monkeypatch):
    ws = dummy_workspace(tmp_path / "ws")
    runs = {name: tmp_path / name for name in STUDENTS[:2]}
    for run in runs.values():
        (run / "student-ct2").mkdir(parents=True)
        (run / "student-ct2" / "model.bin").write_bytes(b"weights")
    time.sleep(0.01)
    saved = pd.DataFrame({"student": ["teacher", *runs], "wer": [0.1, 0.2, 0.3]})
    ws.path(study.STUDENTS_CSV).parent.mkdir(parents=True)
    saved.to_csv(ws.path(study.STUDENTS_CSV), index=False)
    monkeypatch.setattr(study, "test_wers", lambda runs, manifest, limit: "evaluated again")
    assert study.evaluated(ws, runs, tmp_path / "test.jsonl").equals(saved)
    time.sleep(0.01)
    (runs[STUDENTS[1]] / "student-ct2" / "model.bin").write_bytes(b"retrained")
    assert study.evaluated(ws, runs, tmp_path / "test.jsonl") == "evaluated again"


def test_the_smoke_study_runs_from_one_command(tmp_path):
    """`study.py --smoke`: corpus, scoring, validation, four students, test WERs and the report (minutes)."""
    report = tmp_path / "docs" / "study.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study.py"), "--out", str(tmp_path / "run"),
                           "--smoke", "--report", str(report)], capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    text = report.read_text()
    students = pd.read_csv(tmp_path / "run" / "ws" / study.STUDENTS_CSV)
    assert list(students["student"])[:2] == ["teacher", "all pseudo-labels"] and len(students) == 5
    assert len(pd.read_parquet(tmp_path / "run" / "ws" / "scores.parquet")) == study.SMOKE["pool_clips"]
    assert students["wer_english"].notna().all() and (students["rtfx"] > 0).all()
    assert all(f"| {name} |" in text for name in students["student"])
    assert {p.name for p in (tmp_path / "docs" / "study").iterdir()} == {"roc.png", "retention.png", "students.png"}
