"""The calibration behind `combined`: fitting chooses informative scores, estimates are calibrated
out of fold, the file round-trips, and combined is 1 − the estimate."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.analysis.calibrate import calibrate, capped_wer, kept_wers, out_of_fold
from engine.scores.calibration import TIE_BREAK, Calibration, Curve, Feature, estimated_wer, kept_wer_estimate, shipped
from engine.scores.combined import combined


def planted(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Rows whose WER drives `avg_logprob` and `proxy_wer`; `lm_nll` is noise; `chars_per_sec` is a band
    (labels far from the usual rate are bad)."""
    rng = np.random.default_rng(seed)
    wer = np.clip(rng.gamma(0.6, 0.35, n), 0, 3)
    rate = np.where(wer > 0.8, rng.choice([4.0, 30.0], n), 14.0) + rng.normal(0, 1, n)
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(n)], "status": "ok", "pseudo_label": "x", "duration": rng.uniform(1, 8, n),
        "avg_logprob": -0.2 - 0.8 * np.minimum(wer, 1) + rng.normal(0, 0.15, n),
        "proxy_wer": np.minimum(wer, 1) + rng.normal(0, 0.15, n),
        "lm_nll": rng.normal(3, 1, n), "chars_per_sec": rate, "wer": wer,
    })


def test_calibration_keeps_informative_scores_and_leaves_noise_out():
    calibration = calibrate(planted(), log=lambda _: None)
    columns = {f.column for f in calibration.features}
    assert {"avg_logprob", "proxy_wer"} <= columns and "lm_nll" not in columns
    assert abs(sum(f.weight for f in calibration.features) - 1) < 1e-6
    assert calibration.source["max_abs_error"] < 0.03  # out of fold, at 50/70/90 %


def test_estimates_are_calibrated_out_of_fold_and_rank_like_the_truth():
    table = planted(600, seed=1)
    y = capped_wer(table["wer"])
    estimate = out_of_fold(table, ["avg_logprob", "proxy_wer"], y, {"avg_logprob": True, "proxy_wer": False}, seed=0)
    for true, estimated in kept_wers(estimate, y, table["duration"].to_numpy()).values():
        assert abs(true - estimated) < 0.03
    assert np.corrcoef(estimate, y)[0, 1] > 0.8


def test_band_scores_are_distance_from_the_centre():
    feature = Feature("chars_per_sec", 1.0, Curve((0.0, 10.0), (0.0, 1.0)), band_center=14.0)
    values = estimated_wer(pd.DataFrame({"chars_per_sec": [14.0, 9.0, 19.0, np.nan]}),
                           Calibration((feature,), Curve((0.0, 1.0), (0.0, 1.0))))
    assert values[0] == pytest.approx(0, abs=TIE_BREAK) and values[1] == values[2] == pytest.approx(0.5, abs=TIE_BREAK)
    assert np.isnan(values[3])


def test_clips_on_one_flat_step_still_rank_as_their_scores_do():
    step = Curve((-2.0, -1.0, -0.5, 0.0), (1.0, 0.6, 0.6, 0.0))  # flat between -1 and -0.5
    flat = Calibration((Feature("avg_logprob", 1.0, step),), Curve((0.0, 0.5, 0.7, 1.0), (0.0, 0.5, 0.5, 1.0)))
    logprobs = np.array([-3.0, -2.5, -0.9, -0.8, -0.6, 0.5, 1.0])  # beyond the knots, and on both flats
    values = estimated_wer(pd.DataFrame({"avg_logprob": logprobs}), flat)
    assert (np.diff(values) < 0).all()  # higher avg_logprob, lower estimate: no ties
    assert np.abs(values - flat.final(step(logprobs))).max() <= TIE_BREAK
    assert (np.diff(combined(pd.DataFrame({"avg_logprob": logprobs}), flat)) > 0).all()  # still apart in float32


def test_file_round_trips_and_missing_scores_fall_back_to_present_ones():
    calibration = calibrate(planted(), log=lambda _: None)
    again = Calibration.from_json(calibration.to_json())
    table = planted(50, seed=2)
    assert np.allclose(estimated_wer(table, again), estimated_wer(table, calibration))
    no_proxy = table.assign(proxy_wer=np.nan)
    assert np.isfinite(estimated_wer(no_proxy, again)).all()  # avg_logprob alone still estimates
    nothing = table[["id", "duration"]]
    assert np.isnan(estimated_wer(nothing, again)).all()


def test_combined_is_one_minus_the_estimate_and_the_kept_estimate_weights_by_duration():
    calibration = calibrate(planted(), log=lambda _: None)
    table = planted(50, seed=3)
    assert np.allclose(combined(table, calibration), 1 - estimated_wer(table, calibration), atol=1e-6)
    assert kept_wer_estimate(np.array([0.0, 1.0, np.nan]), np.array([3.0, 1.0, 5.0])) == pytest.approx(0.25)
    assert np.isnan(kept_wer_estimate(np.array([]), np.array([])))


def test_the_shipped_calibration_says_where_it_was_measured():
    calibration = shipped()
    assert calibration is not None and calibration.features
    assert calibration.source["corpus"]["part"] == "dev"  # never the test half the study reports on
    assert calibration.source["command"].startswith("python benchmarks/calibrate.py")
