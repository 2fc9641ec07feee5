"""Validation of scores against references: the numbers, the report files and the command."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.analysis.validate import BASELINE, NO_FILTER, ORACLE, REPORTS, kept_wer, validate, validate_workspace
from engine.io.workspace import Workspace
from whisper_curator.cli import main


def _table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wer = rng.uniform(0, 0.6, n)
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(n)], "pseudo_label": pd.array(["x"] * n, dtype="string"),
        "duration": np.ones(n), "wer": wer,
        "confidence": 1 - wer,  # perfect and higher-is-better
        "entropy": -wer,  # perfectly wrong: lower entropy on worse labels
        "avg_logprob": rng.normal(size=n),  # chance
        "min_token_prob": np.where(np.arange(n) % 2, np.nan, -wer),  # perfect where it exists
    })


def test_validation_numbers():
    result = validate(_table()).table
    assert result.loc["confidence", "auroc"] == 1.0 and result.loc["confidence", "spearman"] == pytest.approx(1.0)
    assert result.loc["entropy", "auroc"] == 0.0 and result.loc["entropy", "spearman"] == pytest.approx(-1.0)
    assert 0.3 < result.loc[BASELINE, "auroc"] < 0.7
    assert result.loc["min_token_prob", "coverage"] == 0.5 and 0.5 < result.loc["min_token_prob", "auroc"] < 1.0
    assert result.loc[ORACLE, "kept_wer@50%"] == result.loc["confidence", "kept_wer@50%"]
    assert result.loc[ORACLE, "kept_wer@50%"] < result.loc[NO_FILTER, "kept_wer@50%"]
    assert list(result.index[:2]) == [ORACLE, NO_FILTER] and result.index[2] == "confidence"


def test_kept_wer_weights_by_duration():
    assert kept_wer(np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, 1.0]), np.array([1.0, 3.0, 1.0]), 2 / 3) == 0.75


def test_validation_refuses_without_enough_references():
    table = _table()
    with pytest.raises(ValueError, match="at least 10"):
        validate(table.assign(wer=np.where(np.arange(60) < 5, table["wer"], np.nan)))
    with pytest.raises(ValueError, match="both good and bad"):
        validate(table.assign(wer=0.05))


def test_validate_command_writes_the_report(tmp_workspace, capsys):
    tmp_workspace.write_scores(_table())
    assert main(["validate", str(tmp_workspace.root)]) == 0
    out = capsys.readouterr().out
    assert "| **avg_logprob** (baseline) |" in out and "confidence AUROC 1.000" in out
    reports = tmp_workspace.path(REPORTS)
    assert {p.name for p in reports.iterdir()} == {"validation.csv", "validation.md", "roc.png", "retention.png"}
    assert pd.read_csv(reports / "validation.csv", index_col=0).loc["confidence", "auroc"] == 1.0
    assert main(["validate", str(tmp_workspace.root / "missing")]) == 1


def test_validate_on_the_demo(demo_workspace: Workspace):
    result = validate_workspace(demo_workspace.root).table
    assert result.loc["combined", "auroc"] > 0.8 and result.loc[BASELINE, "auroc"] > 0.8
    assert result.loc["combined", "kept_wer@70%"] < result.loc[NO_FILTER, "kept_wer@70%"]


def test_one_error_in_five_words_is_a_good_label_even_as_float32():
    from engine.scores.reference_wer import good_label

    assert list(good_label(np.array([0.2, 0.21, np.nan], dtype=np.float32))) == [True, False, False]
