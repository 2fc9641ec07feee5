"""The evidence study v2 (benchmarks/study.py, study_stats.py): contamination levels, the arms' kept sets,
bootstrap intervals, the generated findings, and the smoke run from one command."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from engine.io.recipe import kept_mask
from engine.scores.reference_wer import good_label
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of scripts, not an installed package

from benchmarks import study, study_stats  # noqa: E402


@pytest.fixture
def pool() -> pd.DataFrame:
    """200 labelled clips: `combined` tracks 1 − WER, `confidence` loosely; 10 flagged."""
    rng = np.random.default_rng(0)
    wer = np.clip(rng.gamma(0.7, 0.4, 200), 0, 3)
    return pd.DataFrame({
        "id": [f"c{i:03d}" for i in range(200)], "status": ["ok"] * 190 + ["flagged"] * 10,
        "pseudo_label": "a label", "duration": rng.uniform(1, 8, 200), "wer": wer,
        "combined": 1 - np.minimum(wer, 1) + rng.normal(0, 0.05, 200), "confidence": 1 - wer + rng.normal(0, 0.4, 200),
    })


@pytest.mark.parametrize("share", [0.3, 0.6])
def test_contaminated_pools_have_the_asked_share_of_bad_labels(pool, share):
    drawn = study_stats.contaminated_pool(pool, share, seed=1)
    bad = ~good_label(drawn["wer"].to_numpy())
    assert abs(bad.mean() - share) < 0.02 and drawn["id"].is_unique
    everything_scarce = bad.sum() == (~good_label(pool["wer"].to_numpy())).sum() or (~bad).sum() == good_label(pool["wer"].to_numpy()).sum()
    assert everything_scarce  # the largest such pool: every clip of the scarcer kind


def test_arms_keep_the_same_count_and_only_the_reference_row_keeps_flagged_clips(pool):
    arms = study.arm_sets(pool, "confidence", seed=0)
    k = int(kept_mask(pool, study.recommended_recipe()).sum())
    assert {len(ids) for arm, ids in arms.items() if arm != study.ALL_IN} == {k}
    flagged = set(pool["id"][pool["status"] == "flagged"])
    assert all(not flagged & set(ids) for arm, ids in arms.items() if arm != study.ALL_IN)
    assert set(arms[study.ALL_IN]) == set(pool["id"])
    assert study.arm_sets(pool, "confidence", seed=1)[study.NO_FILTER] != arms[study.NO_FILTER]  # random, seeded
    assert study.ALL_IN not in study.arm_sets(pool, "confidence", seed=1, first_seed=False)
    wer = pool.set_index("id")["wer"]
    assert wer[arms[study.ORACLE_ARM]].max() <= wer[arms[study.NO_FILTER]].max()


def test_a_recipe_that_keeps_exactly_the_chosen_clips(pool):
    ids = ["c001", "c050", "c195"]  # c195 is flagged
    assert list(pool["id"][kept_mask(pool, study.exactly(ids, pool))]) == ids


def test_paired_intervals_find_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    words = rng.integers(5, 15, 80).astype(float)
    base = rng.binomial(words.astype(int), 0.3, size=(3, 80)).astype(float)
    better = np.maximum(base - rng.binomial(2, 0.5, size=(3, 80)), 0)
    same = base.copy()
    wers, differences = study_stats.arm_intervals({"no": base, "better": better, "same": same}, words, "no")
    assert wers["no"].low < wers["no"].mean < wers["no"].high
    assert differences["better"].high < 0  # excludes zero in its favour
    assert differences["same"].low == differences["same"].high == 0


def test_kept_metrics_cap_and_estimate():
    rows = pd.DataFrame({"wer": [0.0, 0.5, 3.0], "duration": [1.0, 1.0, 2.0], "combined": [1.0, 0.5, 0.0]})
    m = study_stats.kept_metrics(rows)
    assert m["wer"] == pytest.approx(6.5 / 4) and m["capped_wer"] == pytest.approx(2.5 / 4)
    assert m["over_1"] == 1 and m["mean_min_wer_1"] == pytest.approx(0.5)
    assert m["estimated_capped_wer"] == pytest.approx(2.5 / 4)


def test_findings_say_whether_the_recommended_student_wins():
    rows = []
    for level, (rec, low, high) in {"30% bad labels": (-0.04, -0.07, -0.01), "60% bad labels": (0.01, -0.02, 0.04)}.items():
        rows += [{"level": level, "student": study.NO_FILTER, "wer": 0.3},
                 {"level": level, "student": study.RECOMMENDED, "wer": 0.3 + rec, "low": 0.2, "high": 0.3,
                  "vs_no_filter": rec, "vs_low": low, "vs_high": high}]
    kept = pd.DataFrame([{"level": "30% bad labels", "arm": a, "wer": w}
                         for a, w in ((study.RECOMMENDED, 0.12), (study.ORACLE_ARM, 0.1), (study.NO_FILTER, 0.3))])
    estimates = pd.DataFrame({"level": ["30% bad labels"], "retention": ["70%"], "error": [0.02]})
    text = "\n".join(study.findings(pd.DataFrame(rows), kept, estimates, "entropy"))
    assert "30% bad labels**: the recommended recipe's student has test WER 0.260" in text and "better: the interval excludes zero" in text
    assert "not distinguishable" in text and "1.20× the oracle's" in text and "largest error +0.020" in text


def test_the_test_pool_scores_only_what_the_calibration_and_the_best_score_read():
    assert study.needed_extras({"avg_logprob", "proxy_wer", "entropy"}, study.EXTRAS) == "proxy"
    assert study.needed_extras({"avg_logprob"}, study.EXTRAS) == "none"


def test_the_smoke_study_runs_from_one_command(tmp_path):
    """`study.py --smoke`: corpora, scoring, the loss choice, students per arm and level, the report."""
    report = tmp_path / "study.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "study.py"), "--out", str(tmp_path / "run"),
                           "--smoke", "--report", str(report)], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    text = report.read_text()
    students = pd.read_csv(tmp_path / "run" / "test" / "ws" / study.STUDENTS_CSV)
    assert list(students["student"])[0] == "teacher" and students["wer"].notna().all()
    assert set(students["level"]) == {"–", *(study.level_name(s) for s in study.SMOKE.levels)}
    for section in ("## Findings", "## The loss, chosen on the dev corpus", "## Students", "## Kept sets",
                    "## Estimated kept-set WER", "## The calibration behind `combined`", "## Timings"):
        assert section in text
