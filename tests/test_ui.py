"""The curation views: handlers called directly on a small workspace, then the app in a real browser on the
scored demo (move a threshold, listen to a rejected clip, override, save, export, reload)."""
from __future__ import annotations

import io
import json
import re
import warnings

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from curator import distill as distill_tab
from curator import export_panel, filters, recipe_bar, review
from curator.diff import word_diff_html
from curator.map_view import MAX_LISTED, VERDICT, drawn_sample, map_figure, select_points
from curator.session import Session
from curator.summary import default_column, score_columns
from engine.analysis.mapping import read_map
from engine.distill.config import DistillConfig
from engine.io.recipe import KeepBest, Recipe, kept_mask, load_recipe, recommended_recipe, save_recipe, selection_summary
from engine.scores import HIGHER_IS_BETTER, RECOMMENDED
from testing.browser import FILTER_HISTOGRAM, browser_page, served
from tests.conftest import copy_workspace, dummy_workspace
from tests.test_mapping import with_embedding
from tests.test_ui_client import place_on_a_line, workspace_with_map


@pytest.fixture
def session(tmp_workspace) -> Session:
    """Handlers take a Session; its Gradio parts are not used outside a Blocks."""
    return Session(tmp_workspace, tmp_workspace.table(), None, None, None, [])


# ---- handlers ----

def test_scale_covers_the_values_on_a_round_step():
    s = filters.scale(np.array([0.337, 0.5, 0.959, np.nan]))
    assert s.low <= 0.337 and s.high >= 0.959 and s.step == pytest.approx(0.005)
    assert s.bound(s.low, "min") is None and s.bound(s.high, "max") is None and s.bound(0.6, "min") == 0.6
    assert filters.scale(np.array([np.nan])).high > filters.scale(np.array([np.nan])).low


def test_slider_handler_sets_bounds_and_recomputes_totals(session):
    table = session.table
    recipe, totals, histogram, active, overview = filters.set_bounds(table, Recipe(), "confidence", 0.6, 1e9)
    assert recipe == Recipe().with_bounds("confidence", min=0.6)
    expected = selection_summary(table, kept_mask(table, recipe))
    assert f"Kept {expected['kept_clips']} clips" in totals and "WER of kept clips" in totals
    assert f"data-kept='{expected['kept_clips']}'" in histogram and "class='bound' data-value='0.6'" in histogram
    assert "`confidence` ≥ 0.6" in active
    assert overview_cells(overview) == {"confidence": (expected["kept_clips"], expected["rejected_clips"], 0),
                                        "wer": (expected["kept_clips"], expected["rejected_clips"], 0)}
    assert filters.set_bounds(table, recipe, "confidence", -1e9, 1e9)[0] == Recipe()  # both ends: no filter


def overview_cells(html: str) -> dict[str, tuple[int, int, int]]:
    """The overview's small plots: score → (kept, rejected, without a value) as printed under each."""
    cells = re.findall(r"data-column='([^']+)'.*?<span class='counts'>(.*?)</span></button>", html)
    return {column: tuple(int(re.search(rf"class='{kind}'>(\d+)<", counts).group(1)) if kind in counts else 0
                          for kind in ("kept", "rejected", "missing")) for column, counts in cells}


def test_binned_counts_match_numpy_histograms():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(size=997), [np.nan, np.nan, 7.0]])  # NaNs, and a maximum on the last edge
    table = pd.DataFrame({"id": [f"c{i}" for i in range(1000)], "confidence": values, "rms_db": np.full(1000, np.nan)})
    kept = rng.random(1000) < 0.6
    bins = filters.bin_table(table)
    kept_counts, rejected_counts = bins.counts(kept)
    edges = np.histogram_bin_edges(values[np.isfinite(values)], filters.BINS)
    assert bins.columns == ["confidence", "rms_db"] and np.allclose(bins.edges[0], edges)
    for counts, part in ((kept_counts, kept), (rejected_counts, ~kept)):
        assert list(counts[0, :-1]) == list(np.histogram(values[part & np.isfinite(values)], edges)[0])
        assert counts[0, -1] == (part & np.isnan(values)).sum() and counts[1, -1] == part.sum()  # rms_db: no values
    assert filters.binned(table) is filters.binned(table)  # binned once per table


def test_overview_counts_add_up_to_the_totals_and_draw_the_bounds(session):
    table = session.table.assign(confidence=lambda t: t["confidence"].where(t.index != 0))  # clip 0: no value
    recipe = Recipe(include_flagged=True).with_bounds("confidence", min=0.5)
    totals, histogram, _, overview = filters.recipe_views(table, recipe, "wer")
    kept = kept_mask(table, recipe)
    cells = overview_cells(overview)
    assert list(cells) == score_columns(table)
    for column, (shown_kept, shown_rejected, missing) in cells.items():
        has_value = table[column].notna().to_numpy()
        assert (shown_kept, missing) == ((kept & has_value).sum(), (~has_value).sum())
        assert shown_kept + shown_rejected + missing == len(table)
    assert f"Kept {kept.sum()} clips" in totals and overview.count("class='bound'") == 1
    assert "class='cell current' data-column='wer'" in overview and "aria-label='wer:" in histogram


def test_the_filter_tab_opens_on_the_recommended_score(session):
    assert RECOMMENDED in HIGHER_IS_BETTER and RECOMMENDED == "combined"
    assert default_column(session.table) == "confidence"  # no combined: the registry's first score
    assert default_column(session.table.assign(combined=0.5)) == "combined"
    assert default_column(session.table[["id", "status", "duration"]]) is None


def test_clicking_a_small_plot_opens_that_score(session):
    column, low, high, note, histogram, overview = filters.open_column(session.table, Recipe(), "wer")
    assert column == "wer" and low.label == "Keep clips with wer ≥" and "lower is better" in note
    assert "aria-label='wer:" in histogram and "class='cell current' data-column='wer'" in overview
    with pytest.raises(gr.Error, match="no score 'id'"):
        filters.open_column(session.table, Recipe(), "id")


def test_crossed_sliders_keep_the_recipe(session):
    recipe = Recipe().with_bounds("confidence", min=0.5)
    same, _, _, active, _ = filters.set_bounds(session.table, recipe, "confidence", 0.8, 0.7)
    assert same == recipe and active.startswith("⚠ **Not applied:** the lower bound 0.8 is above")


def test_options_handler_sets_keep_best_flagged_and_combine(session):
    recipe = filters.set_options(session.table, Recipe(), "confidence", "any", True, "confidence", 50)[0]
    assert recipe == Recipe(combine="any", include_flagged=True, keep_best=KeepBest("confidence", 50))
    assert filters.set_options(session.table, recipe, "confidence", "all", False, filters.OFF, 50)[0] == Recipe()


def test_controls_follow_a_loaded_recipe(session):
    recipe = Recipe(keep_best=KeepBest("wer", 70), include_flagged=True).with_bounds("confidence", 0.5)
    low, high, note, combine, flagged, best, percent, totals, _, _, _ = filters.all_controls(session.table, recipe,
                                                                                              "confidence")
    assert low.value == 0.5 and high.value == high.maximum and "higher is better" in note
    assert (combine, flagged, best, percent) == ("all", True, "wer", 70)


def test_review_page_lists_rejected_clips_worst_first_with_reasons(session):
    recipe = Recipe().with_bounds("confidence", min=0.6)
    frame, info, page = review.page_rows(session.table, recipe, "rejected", "confidence", "worst", 1)
    rejected = session.table[~kept_mask(session.table, recipe)]
    assert len(frame) == len(rejected) and info.startswith(f"{len(rejected)} rejected clips") and page == 1
    values = frame["confidence"].dropna().to_numpy()
    assert (np.diff(values) >= 0).all()
    assert set(frame["why"]) <= {"fails confidence", "flagged: near-silent (-70 dBFS)"}
    assert review.page_rows(session.table, recipe, "all", "wer", "best", 99)[2] == 1  # clamped to the last page


def test_details_show_a_word_diff_and_scores(session):
    clip_id = session.table["id"].iloc[0]
    html = review.details_html(session.table, Recipe(), clip_id)
    assert "Reference → pseudo-label" in html and "<del" in html and "<ins" in html and "confidence" in html


def test_word_diff_marks_insertions_deletions_and_escapes():
    html = word_diff_html("the cat sat on the <mat>", "The cat stood on the <mat>.")
    assert html.startswith("The cat <del style") and ">sat</del>" in html and ">stood</ins>" in html
    assert html.endswith(" on the &lt;mat&gt;.") and "<mat>" not in html


def test_word_diff_forgives_british_spelling():
    assert word_diff_html("the colour of the harbour", "The color of the harbor.") == "The color of the harbor."


def test_overrides_persist_without_saving_thresholds(session):
    saved = save_recipe(session.ws, Recipe().with_bounds("wer", max=0.4))
    clip_id = session.table["id"].iloc[2]
    recipe, loaded, html = review.set_override(session, Recipe().with_bounds("confidence", 0.9), saved.fingerprint,
                                               clip_id, "reject")
    assert recipe.overrides == {clip_id: "reject"} and "reject (your override)" in html
    assert load_recipe(session.ws) == Recipe(overrides={clip_id: "reject"}).with_bounds("wer", max=0.4)
    recipe, loaded, _ = review.set_override(session, recipe, loaded, clip_id, None)
    assert recipe.overrides == {} and load_recipe(session.ws).overrides == {}


def test_override_errors_are_readable(session):
    with pytest.raises(gr.Error, match="Choose a clip"):
        review.set_override(session, Recipe(), "", None, "keep")
    table = session.table.assign(status=["error"] + list(session.table["status"][1:]))
    with pytest.raises(gr.Error, match="status error"):
        review.set_override(Session(session.ws, table, None, None, None, []), Recipe(), "", table["id"][0], "keep")


def test_save_reports_another_sessions_change_and_load_survives_a_broken_file(session):
    _, loaded, _ = recipe_bar.load(session.ws, session.table)
    save_recipe(session.ws, Recipe(include_flagged=True))  # another session
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded, notice = recipe_bar.save(session.ws, Recipe(), loaded)
        assert "changed by another session" in notice
        assert "Saved to" in recipe_bar.save(session.ws, Recipe(), loaded)[1]
        session.ws.path("recipe.yaml").write_text("filters: {dnsmos: {min: 3}}")
        recipe, _, notice = recipe_bar.load(session.ws, session.table)
    assert recipe == Recipe() and "dnsmos, which this workspace has no scores for" in notice


def test_load_opens_on_the_recommended_recipe_and_totals_show_the_estimate(session):
    table = session.table.assign(combined=np.linspace(0.2, 0.9, len(session.table)))
    recipe, loaded, notice = recipe_bar.load(session.ws, table)
    assert recipe == recommended_recipe() and not loaded and "recommended" in notice
    assert recipe_bar.load(session.ws, table.drop(columns="combined"))[0] == Recipe()  # nothing to recommend on
    summary = selection_summary(table, kept_mask(table, recipe))
    kept = table[kept_mask(table, recipe)]
    assert summary["estimated_wer"] == pytest.approx(np.average(1 - kept["combined"], weights=kept["duration"]))
    assert f"estimated WER of kept clips {summary['estimated_wer']:.1%}" in recipe_bar.totals_markdown(summary)


def test_export_handler_writes_and_refuses_bad_folders(session, tmp_path):
    message = export_panel.run_export(session, Recipe(), "nemo", str(tmp_path / "out"))
    assert "Exported **5 clips**" in message
    assert len((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()) == 5
    with pytest.raises(gr.Error, match="folder"):
        export_panel.run_export(session, Recipe(), "nemo", "  ")
    with pytest.raises(gr.Error, match="keeps no clips"):
        export_panel.run_export(session, Recipe().with_bounds("confidence", min=5), "nemo", str(tmp_path / "x"))


def test_an_app_served_beyond_this_machine_exports_only_under_the_workspace(session, tmp_path):
    with pytest.raises(gr.Error, match="served beyond this machine"):
        export_panel.run_export(session, Recipe(), "nemo", str(tmp_path / "elsewhere"), anywhere=False)
    with pytest.raises(gr.Error, match="served beyond this machine"):
        export_panel.run_export(session, Recipe(), "nemo", "../../escape", anywhere=False)
    assert not (tmp_path / "elsewhere").exists()
    message = export_panel.run_export(session, Recipe(), "nemo", "mine", anywhere=False)
    assert str(session.ws.path("exports") / "mine") in message
    assert (session.ws.path("exports") / "mine" / "manifest.jsonl").is_file()


def test_distill_run_names_stay_inside_the_workspace(session):
    for name in ("../outside", "/tmp/run", "a/b", ".."):
        with pytest.raises(gr.Error, match="run name"):
            distill_tab.start(session.ws, name, DistillConfig(max_steps=1))
    assert not session.ws.path("runs").exists() or not any(session.ws.path("runs").iterdir())


def test_map_figure_colours_by_verdict_or_score(session):
    table = session.table
    points = pd.DataFrame({"id": table["id"], "x": np.arange(len(table), dtype=float), "y": 0.0})
    rows = np.arange(len(table))
    verdict = map_figure(table, points, rows, Recipe(), VERDICT)
    assert [t.name for t in verdict.data] == ["kept", "rejected"] and len(verdict.data[1].x) == 1  # the flagged clip
    assert list(map_figure(table, points, rows, Recipe(), "confidence").data[0].marker.color) == pytest.approx(
        table["confidence"].tolist())
    assert list(drawn_sample(3, limit=4)) == [0, 1, 2]
    sample = drawn_sample(100, limit=10)  # a big map draws a fixed sample; selections still cover every clip
    assert len(set(sample)) == 10 and list(sample) == sorted(sample) and list(drawn_sample(100, limit=10)) == list(sample)


def test_map_selection_lists_at_most_the_most_doubtful_clips(session):
    table = pd.concat([session.table] * 50, ignore_index=True).assign(id=lambda t: [f"c{i}" for i in range(len(t))])
    points = pd.DataFrame({"id": table["id"], "x": np.arange(len(table), dtype=float), "y": 0.0})
    everything = '{"box": {"x": [0, 1e9], "y": [-1, 1]}}'
    frame, info = select_points(table, points, np.arange(len(table)), Recipe(), VERDICT, everything)
    assert len(frame) == MAX_LISTED and info.startswith(f"**{len(table)} clips selected** (the {MAX_LISTED} most doubtful")
    assert frame["confidence"].is_monotonic_increasing
    with pytest.raises(gr.Error, match="map selection"):
        select_points(table, points, np.arange(len(table)), Recipe(), VERDICT, "{not json")


def test_audio_map_writes_coordinates_for_clips_with_embeddings(tmp_workspace):
    from engine.analysis.mapping import audio_map, read_map
    from engine.io.workspace import write_array_atomic

    n = len(tmp_workspace.read_scores())
    embeddings = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float16)
    embeddings[1:3] = np.nan
    write_array_atomic(tmp_workspace.path("embeddings/audio.npy"), embeddings)
    with pytest.raises(ValueError, match="at least"):
        audio_map(tmp_workspace)  # four clips with embeddings are too few
    bigger = np.concatenate([embeddings] * 4)
    scores = pd.concat([tmp_workspace.read_scores().assign(id=lambda t, k=k: t["id"] + f"-{k}") for k in range(4)])
    tmp_workspace.write_scores(scores)
    write_array_atomic(tmp_workspace.path("embeddings/audio.npy"), bigger)
    points = audio_map(tmp_workspace, fit_rows=12)
    assert len(points) == 4 * (n - 2) and np.isfinite(points[["x", "y"]].to_numpy()).all()
    pd.testing.assert_frame_equal(read_map(tmp_workspace), points)


# ---- in a browser ----

@pytest.fixture(scope="module")
def ui_workspace(demo_workspace, tmp_path_factory):
    return copy_workspace(demo_workspace, tmp_path_factory.mktemp("ui") / "ws")


@pytest.fixture(scope="module")
def app_url(ui_workspace):
    with served(ui_workspace.root) as url:
        yield url


@pytest.fixture
def page(app_url):
    with browser_page() as page:
        page.goto(app_url)
        page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
        yield page


OPENING = recommended_recipe()  # what the Filter tab shows before a recipe is saved (the demo has `combined`)


def expected_kept(ws, recipe: Recipe) -> int:
    table = ws.table()
    return int(kept_mask(table, recipe).sum())


def test_moving_the_threshold_updates_the_totals_and_histogram(page, ui_workspace, artifacts):
    from playwright.sync_api import expect

    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, OPENING)} clips")
    page.locator("#filter-min input[type=number]").fill("0.6")
    recipe = OPENING.with_bounds(RECOMMENDED, min=0.6)
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, recipe)} clips", timeout=10_000)
    expect(page.locator("#active-filters")).to_contain_text(f"{RECOMMENDED} ≥ 0.6")
    summary = selection_summary(ui_workspace.table(), kept_mask(ui_workspace.table(), recipe))
    expect(page.locator("#totals")).to_contain_text(f"estimated WER of kept clips {summary['estimated_wer']:.1%}")
    histogram = page.locator(FILTER_HISTOGRAM)
    expect(histogram).to_have_attribute("data-kept", str(kept_with_value(ui_workspace.table(), recipe, RECOMMENDED)))
    expect(histogram.locator("line.bound")).to_have_attribute("data-value", "0.6")
    page.locator("#filter-min input[type=range]").press("ArrowRight")  # a keyboard move of the slider itself
    step = filters.scale(filters.column_values(ui_workspace.table(), RECOMMENDED)).step
    expect(page.locator("#active-filters")).to_contain_text(f"{RECOMMENDED} ≥ {0.6 + step:.4g}", timeout=10_000)
    page.screenshot(path=str(artifacts / "ui-filter.png"), full_page=True)


def kept_with_value(table: pd.DataFrame, recipe: Recipe, column: str) -> int:
    """Kept clips that have a `column` value: the ones its histograms draw."""
    return int((kept_mask(table, recipe) & table[column].notna().to_numpy()).sum())


def test_the_filter_tab_opens_on_combined_with_every_score_at_a_glance(page, ui_workspace, artifacts):
    from playwright.sync_api import expect

    table = ui_workspace.table()
    assert default_column(table) == RECOMMENDED == "combined"
    expect(page.locator("#filter-column input")).to_have_value(RECOMMENDED)
    expect(page.locator("#filter-min")).to_contain_text(f"Keep clips with {RECOMMENDED} ≥", timeout=10_000)
    cells = page.locator("#filter-overview button[data-column]")
    expect(cells).to_have_count(len(score_columns(table)), timeout=10_000)
    assert [cells.nth(i).get_attribute("data-column") for i in range(cells.count())] == score_columns(table)
    shown = overview_cells(page.locator("#filter-overview").inner_html())
    for column, (kept, rejected, missing) in shown.items():
        assert (kept, kept + rejected + missing) == (kept_with_value(table, OPENING, column), len(table)), column
    expect(page.locator(f"#filter-overview .current[data-column='{RECOMMENDED}']")).to_have_count(1)

    page.locator("#filter-min input[type=number]").fill("0.6")  # the overview follows the recipe
    recipe = OPENING.with_bounds(RECOMMENDED, min=0.6)
    small = page.locator(f"#filter-overview [data-column='{RECOMMENDED}']")
    expect(small.locator(".kept")).to_have_text(str(kept_with_value(table, recipe, RECOMMENDED)), timeout=10_000)
    expect(small.locator("line.bound")).to_have_count(1)
    page.screenshot(path=str(artifacts / "ui-filter-overview.png"), full_page=True)

    page.locator("#filter-overview [data-column='confidence']").click()  # a click opens that score
    expect(page.locator("#filter-column input")).to_have_value("confidence", timeout=10_000)
    expect(page.locator("#filter-min")).to_contain_text("Keep clips with confidence ≥")
    expect(page.locator(FILTER_HISTOGRAM)).to_have_attribute("aria-label", re.compile("^confidence:"))
    expect(page.locator("#filter-overview .current")).to_have_attribute("data-column", "confidence")
    expect(page.locator("#active-filters")).to_contain_text(f"{RECOMMENDED} ≥ 0.6")  # the recipe is unchanged
    page.screenshot(path=str(artifacts / "ui-filter-overview-click.png"), full_page=True)


def test_a_rejected_clip_plays_and_can_be_kept(page, ui_workspace, artifacts):
    from playwright.sync_api import expect

    page.locator("#filter-min input[type=number]").fill("0.6")
    expect(page.locator("#totals")).to_contain_text(
        f"Kept {expected_kept(ui_workspace, OPENING.with_bounds(RECOMMENDED, min=0.6))} clips", timeout=10_000)
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-table").get_by_text(f"fails {RECOMMENDED}").filter(visible=True).first.click()
    clip_id = page.locator("#review-details h3").inner_text(timeout=30_000).strip()
    link = page.locator("#review-audio a.download-link")
    link.wait_for(timeout=30_000)
    samples, rate = sf.read(io.BytesIO(page.request.get(link.get_attribute("href")).body()))
    duration = float(ui_workspace.read_scores().set_index("id").loc[clip_id, "duration"])
    assert len(samples) / rate == pytest.approx(duration, abs=0.01)
    expect(page.locator("#review-details")).to_contain_text("Reference → pseudo-label")
    page.screenshot(path=str(artifacts / "ui-review.png"), full_page=True)
    page.locator("#keep-clip").click()
    expect(page.locator("#review-details")).to_contain_text("keep (your override)", timeout=10_000)
    assert load_recipe(ui_workspace).overrides[clip_id] == "keep"
    page.locator("#clear-override").click()
    expect(page.locator("#review-details")).not_to_contain_text("your override", timeout=10_000)
    assert clip_id not in load_recipe(ui_workspace).overrides


def test_save_export_and_reload_restores_the_recipe(page, ui_workspace, artifacts):
    from playwright.sync_api import expect

    page.locator("#filter-min input[type=number]").fill("0.7")
    recipe = OPENING.with_bounds(RECOMMENDED, min=0.7)
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, recipe)} clips", timeout=10_000)
    page.locator("#save-recipe").click()
    expect(page.locator("#recipe-notice")).to_contain_text("Saved to", timeout=10_000)
    assert load_recipe(ui_workspace).filters == recipe.filters

    page.get_by_role("tab", name="Export").click()
    page.locator("#export-button").click()
    expect(page.locator("#export-summary")).to_contain_text(f"Exported {expected_kept(ui_workspace, recipe)} clips",
                                                            timeout=30_000)
    manifest = ui_workspace.path("exports/nemo/manifest.jsonl").read_text().splitlines()
    assert len(manifest) == expected_kept(ui_workspace, recipe) and "text" in json.loads(manifest[0])
    page.screenshot(path=str(artifacts / "ui-export.png"), full_page=True)

    page.reload()
    page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
    expect(page.locator("#filter-min input[type=number]")).to_have_value("0.7", timeout=10_000)
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, recipe)} clips")
    expect(page.locator("#recipe-notice")).to_contain_text("Loaded")


def test_the_filter_tab_opens_on_the_recommended_recipe_and_one_click_restores_it(page, ui_workspace, artifacts):
    from playwright.sync_api import expect

    ui_workspace.path("recipe.yaml").unlink(missing_ok=True)  # an earlier test saved one
    page.reload()
    page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
    expect(page.locator("#recipe-notice")).to_contain_text("recommended")
    expect(page.locator("#best-column input")).to_have_value(RECOMMENDED, timeout=10_000)
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, OPENING)} clips")
    expect(page.locator("#totals")).to_contain_text("estimated WER of kept clips")
    page.locator("#clear-all").click()
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, Recipe())} clips", timeout=10_000)
    page.locator("#recommended-recipe").click()
    expect(page.locator("#totals")).to_contain_text(f"Kept {expected_kept(ui_workspace, OPENING)} clips", timeout=10_000)
    expect(page.locator("#best-percent input[type=number]")).to_have_value(f"{OPENING.keep_best.percent:g}")
    page.screenshot(path=str(artifacts / "ui-recommended.png"), full_page=True)


def test_the_demo_has_its_map_and_a_distill_tab(page, ui_workspace):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Map").click()
    page.wait_for_selector("#map-plot .js-plotly-plot", timeout=30_000)  # the demo made it, as `score` does
    assert drawn_ids(page) == set(read_map(ui_workspace)["id"])
    expect(page.locator("#map-make")).to_be_hidden()
    page.get_by_role("tab", name="Distill").click()
    expect(page.locator("#distill-kept")).to_contain_text("clips")  # the live tab; a job end to end: test_distill_ui


def test_box_selecting_points_on_the_map_lists_them_and_plays_one(tmp_path, artifacts):
    from playwright.sync_api import expect

    ws = workspace_with_map(tmp_path / "ws")  # clip-c{i} at x = i, y = i % 3
    with served(ws.root) as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Map").click()
        drag_over(page, "#map-plot .js-plotly-plot .nsewdrag", 0.0, 0.5)  # x up to about 2.5: c0 to c2
        expect(page.locator("#map-info")).to_contain_text("3 clips selected", timeout=15_000)
        for clip_id in ("clip-c0", "clip-c1", "clip-c2"):
            expect(page.locator("#map-table")).to_contain_text(clip_id)
        page.locator('#map-table >> text="clip-c2" >> visible=true').first.click()
        expect(page.locator("#map-details h3")).to_have_text("clip-c2", timeout=15_000)
        page.locator("#map-audio a.download-link").wait_for(timeout=15_000)
        page.screenshot(path=str(artifacts / "ui-map.png"), full_page=True)


def drag_over(page, selector: str, start: float, end: float) -> None:
    """Drag from the area's top edge at `start` of its width to its bottom edge at `end` (5 px inside): the
    plot's default drag is a box selection."""
    area = page.locator(selector).first
    area.wait_for(timeout=30_000)
    box = area.bounding_box()
    page.mouse.move(box["x"] + max(5, box["width"] * start), box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + min(box["width"] - 5, box["width"] * end), box["y"] + box["height"] - 5, steps=8)
    page.mouse.up()


def drawn_ids(page) -> set[str]:
    """The clip ids the map plot draws, read from plotly's data in the page."""
    return set(page.evaluate("() => document.querySelector('#map-plot .js-plotly-plot').data.flatMap((t) => t.text)"))


def choose_map_tab(page) -> None:
    """Once a (re)loaded page has drawn its first tab, choose the Map tab."""
    page.wait_for_selector(FILTER_HISTOGRAM, timeout=60_000)
    page.get_by_role("tab", name="Map").click()


def test_a_workspace_without_a_map_makes_one_from_the_map_tab(tmp_path, artifacts):
    from playwright.sync_api import expect

    ws = with_embedding(dummy_workspace(tmp_path / "ws"))
    with served(ws.root) as url, browser_page() as page:
        page.goto(url)  # waits for the load event
        choose_map_tab(page)
        expect(page.locator("#map-missing")).to_contain_text(f"whisper-curator map {ws.root}")
        page.screenshot(path=str(artifacts / "ui-map-missing.png"), full_page=True)
        page.locator("#map-make").click()
        # The progress bar ("Making the map", engine steps tested in test_mapping) can be gone before a check
        # sees it: on 6 clips with UMAP already compiled the map takes well under a second.
        page.wait_for_selector("#map-plot .js-plotly-plot", timeout=120_000)
        assert drawn_ids(page) == set(ws.read_scores()["id"]) == set(read_map(ws)["id"])
        expect(page.locator("#map-make")).to_be_hidden()
        drag_over(page, "#map-plot .js-plotly-plot .nsewdrag", 0.0, 1.0)  # the whole plot: every clip
        expect(page.locator("#map-info")).to_contain_text(f"{len(ws.read_scores())} clips selected", timeout=15_000)
        page.screenshot(path=str(artifacts / "ui-map-made.png"), full_page=True)


def test_a_map_written_while_the_app_runs_shows_after_a_reload(tmp_path, artifacts):
    from playwright.sync_api import expect

    ws = dummy_workspace(tmp_path / "ws")  # no embeddings: the app could not make this map itself
    with served(ws.root) as url, browser_page() as page:
        page.goto(url)
        choose_map_tab(page)
        expect(page.locator("#map-make")).to_be_visible()
        place_on_a_line(ws)  # what `whisper-curator map` run beside the app does
        page.reload()
        choose_map_tab(page)
        page.wait_for_selector("#map-plot .js-plotly-plot", timeout=30_000)
        assert drawn_ids(page) == set(ws.read_scores()["id"])
        expect(page.locator("#map-make")).to_be_hidden()
        page.screenshot(path=str(artifacts / "ui-map-reloaded.png"), full_page=True)


def test_the_distill_form_makes_an_experts_config_and_refuses_languages_for_other_students():
    form = [2, 10.0, 4, 8, 0.8, 1.0, 2.0, True]  # decoder layers … frozen encoder
    config = distill_tab.config_from_form("experts", " de,fr ", *form)
    assert (config.student, config.language_list) == ("experts", ("de", "fr"))
    assert distill_tab.config_from_form("window", "", *form).languages is None
    for student, languages in (("window", "de"), ("experts", "")):
        with pytest.raises(gr.Error, match="Check the form"):
            distill_tab.config_from_form(student, languages, *form)


def test_the_distill_status_line_and_its_timer_agree_when_a_job_ends_between_reads(tmp_workspace, monkeypatch):
    """A job that ends while the tab refreshes must not leave the line on `training` with the timer stopped."""
    statuses = iter([{"stage": "training", "step": 2, "max_steps": 500}, {"stage": "cancelled", "step": 2}])
    monkeypatch.setattr(distill_tab, "read_status", lambda ws, run: next(statuses, {"stage": "cancelled"}))
    status, *_, timer = distill_tab.views(tmp_workspace, tmp_workspace.path("runs") / "r")
    assert "training" in status and timer.active
