"""Recipe: YAML round-trip, what kept_mask keeps, the summary, and saving beside other sessions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.io.recipe import (
    CHANGED_NOTICE, Bounds, KeepBest, Recipe, explain, kept_mask, load_recipe, read_recipe, save_overrides, save_recipe,
    selection_summary,
)
from engine.scores import higher_is_better


@pytest.fixture
def table() -> pd.DataFrame:
    """Eight clips: six ok, one flagged, one error; confidence with a NaN; wer for all but the error."""
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(8)],
        "status": ["ok"] * 6 + ["flagged", "error"],
        "duration": np.array([3600, 3600, 1800, 1800, 900, 900, 3600, np.nan], dtype=np.float32),
        "confidence": np.array([0.9, 0.8, 0.7, 0.6, 0.5, np.nan, 0.95, np.nan], dtype=np.float32),
        "entropy": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.1, np.nan], dtype=np.float32),
        "wer": np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.0, np.nan], dtype=np.float32),
    })


def kept_ids(table: pd.DataFrame, recipe: Recipe) -> list[str]:
    return list(table.loc[kept_mask(table, recipe), "id"])


def test_default_recipe_keeps_every_ok_clip(table):
    assert kept_ids(table, Recipe()) == ["c0", "c1", "c2", "c3", "c4", "c5"]


def test_flagged_only_with_include_flagged_and_error_never(table):
    assert kept_ids(table, Recipe(include_flagged=True)) == ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
    forced = Recipe(include_flagged=True, overrides={"c7": "keep"})
    assert "c7" not in kept_ids(table, forced)


def test_bounds_and_nan_fails_a_filter(table):
    assert kept_ids(table, Recipe().with_bounds("confidence", min=0.65)) == ["c0", "c1", "c2"]
    assert kept_ids(table, Recipe().with_bounds("confidence", max=0.65)) == ["c3", "c4"]  # c5 is NaN
    assert kept_ids(table, Recipe().with_bounds("confidence", 0.55, 0.85)) == ["c1", "c2", "c3"]


def test_combine_all_versus_any(table):
    recipe = Recipe().with_bounds("confidence", min=0.85).with_bounds("entropy", max=0.35)
    assert kept_ids(table, recipe) == ["c0"]
    assert kept_ids(table, Recipe(filters=recipe.filters, combine="any")) == ["c0", "c1", "c2"]


def test_overrides_win_last(table):
    recipe = Recipe(overrides={"c4": "keep", "c0": "reject", "c6": "keep"}).with_bounds("confidence", min=0.65)
    assert kept_ids(table, recipe) == ["c1", "c2", "c4", "c6"]


def test_keep_best_percent_follows_the_registry_direction(table):
    # five ok clips have confidence: the best 40 % is two of them
    assert kept_ids(table, Recipe(keep_best=KeepBest("confidence", 40))) == ["c0", "c1"]
    # entropy: lower is better
    assert kept_ids(table, Recipe(keep_best=KeepBest("entropy", 50))) == ["c0", "c1", "c2"]
    assert kept_ids(table, Recipe(keep_best=KeepBest("confidence", 100))) == ["c0", "c1", "c2", "c3", "c4"]


def test_directions_for_unknown_columns():
    assert not higher_is_better("wer") and not higher_is_better("proxy_wer")
    assert higher_is_better("confidence") and higher_is_better("some_new_score") and higher_is_better("rms_db")


def test_filter_on_a_missing_column_is_a_readable_error(table):
    with pytest.raises(ValueError, match="no scores for"):
        kept_mask(table, Recipe().with_bounds("dnsmos_ovrl", min=3))


def test_kept_mask_is_fast_on_100k_rows():
    import time

    n = 100_000
    rng = np.random.default_rng(0)
    big = pd.DataFrame({"id": [f"c{i}" for i in range(n)], "status": rng.choice(["ok", "flagged", "error"], n),
                        "confidence": rng.random(n, dtype=np.float32), "entropy": rng.random(n, dtype=np.float32)})
    recipe = Recipe(keep_best=KeepBest("entropy", 80), overrides={"c1": "keep", "c2": "reject"}).with_bounds("confidence", 0.2)
    start = time.perf_counter()
    kept_mask(big, recipe)
    assert time.perf_counter() - start < 0.1


def test_selection_summary_hours_and_duration_weighted_wer(table):
    recipe = Recipe().with_bounds("confidence", min=0.65)
    summary = selection_summary(table, kept_mask(table, recipe))
    assert summary["kept_clips"] == 3 and summary["rejected_clips"] == 5
    assert summary["kept_hours"] == pytest.approx(2.5) and summary["rejected_hours"] == pytest.approx(2.0)
    assert summary["kept_wer"] == pytest.approx((0 * 1 + 0.1 * 1 + 0.2 * 0.5) / 2.5)
    assert summary["all_wer"] == pytest.approx((0.1 + 0.1 + 0.15 + 0.1 + 0.125 + 0) / 4.5)
    assert selection_summary(table.drop(columns="wer"), np.ones(8, bool))["kept_wer"] is None


def test_yaml_round_trip():
    recipe = Recipe(filters={"confidence": Bounds(0.6), "rms_db": Bounds(-40, -5.5)}, combine="any",
                    keep_best=KeepBest("entropy", 80), include_flagged=True, overrides={"a": "keep", "b": "reject"})
    assert Recipe.from_yaml(recipe.to_yaml()) == recipe
    assert Recipe.from_yaml(Recipe().to_yaml()) == Recipe()
    assert Recipe.from_yaml("") == Recipe()


def test_with_methods_return_changed_copies():
    recipe = Recipe().with_bounds("confidence", 0.5).with_overrides({"a": "keep", "b": "reject"})
    assert recipe.filters == {"confidence": Bounds(0.5)} and recipe.overrides == {"a": "keep", "b": "reject"}
    assert recipe.with_bounds("confidence").filters == {}
    assert recipe.with_overrides({"a": None}).overrides == {"b": "reject"}


@pytest.mark.parametrize("text, message", [
    ("combine: some", "combine must be one of"),
    ("filters: {confidence: {min: 0.9, max: 0.1}}", "above max"),
    ("filters: {confidence: {min: high}}", "must be a number"),
    ("filters: {confidence: {low: 1}}", "only have min and max"),
    ("overrides: {a: maybe}", "keep or reject"),
    ("keep_best: {column: confidence, percent: 0}", "percent"),
    ("thresholds: {}", "unknown recipe key"),
    ("[1, 2", "not valid YAML"),
    ("- 1", "must be a mapping"),
])
def test_bad_recipes_are_readable_errors(text, message):
    with pytest.raises(ValueError, match=message):
        Recipe.from_yaml(text)


def test_load_and_save_in_a_workspace(tmp_workspace):
    assert load_recipe(tmp_workspace) == Recipe()
    recipe = Recipe().with_bounds("confidence", 0.5)
    saved = save_recipe(tmp_workspace, recipe)
    assert saved.notice == "" and load_recipe(tmp_workspace) == recipe
    assert read_recipe(tmp_workspace)[1] == saved.fingerprint


def test_saving_over_another_sessions_change_says_so(tmp_workspace):
    _, mine = read_recipe(tmp_workspace)
    _, theirs = read_recipe(tmp_workspace)
    theirs = save_recipe(tmp_workspace, Recipe(include_flagged=True), since=theirs)
    assert theirs.notice == ""
    mine = save_recipe(tmp_workspace, Recipe().with_bounds("confidence", 0.5), since=mine)
    assert mine.notice == CHANGED_NOTICE
    assert load_recipe(tmp_workspace) == Recipe().with_bounds("confidence", 0.5)  # last writer wins


def test_overrides_merge_into_the_file_and_keep_its_thresholds(tmp_workspace):
    saved = save_recipe(tmp_workspace, Recipe().with_bounds("confidence", 0.5))
    held = save_overrides(tmp_workspace, {"x": "keep"}, since=saved.fingerprint)
    assert load_recipe(tmp_workspace) == Recipe(overrides={"x": "keep"}).with_bounds("confidence", 0.5)
    save_recipe(tmp_workspace, Recipe())  # another session
    still = save_overrides(tmp_workspace, {"x": None, "y": "reject"}, since=held)
    assert load_recipe(tmp_workspace) == Recipe(overrides={"y": "reject"})
    assert still == held  # a later full save will still report the other session's change


def test_explain_names_the_reason_per_row(table):
    recipe = Recipe(overrides={"c1": "reject"}, keep_best=KeepBest("entropy", 80)).with_bounds("confidence", min=0.65)
    table = table.assign(reason=["", "", "", "", "", "", "near-silent", "unreadable"])
    assert explain(table, recipe, [0, 1, 3, 5, 6, 7]) == [
        "kept", "reject (your override)", "fails confidence", "fails confidence, best 80 % entropy",
        "flagged: near-silent", "error: unreadable"]
