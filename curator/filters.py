"""Filter tab: pick a score, see its histogram (kept vs rejected) and move its bounds; keep-best %,
flagged clips and the combine mode; a list of every active filter; an overview of every score's histogram
(small multiples, a click opens that score). Handlers are whole-array numpy.

Each score's bin edges and each clip's bin are computed once per table (`binned`): a recipe change only counts
the kept clips per bin, one `np.bincount` over every score at once. Both the histogram and the overview are
inline SVG in gr.HTML: gr.Plot rebuilds a plotly figure from scratch on every update (≈ 70 ms in chromium for a
slider move), an SVG repaints in a few. A small script (`OVERVIEW_JS`) sends a clicked score back.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape

import gradio as gr
import numpy as np
import pandas as pd

from curator.recipe_bar import totals_markdown
from curator.session import Session
from curator.summary import default_column, score_columns
from engine.io.recipe import (
    RECOMMENDED_RETENTION, Bounds, KeepBest, Recipe, filter_passes, kept_mask, recommended_recipe, selection_summary,
)
from engine.scores import HIGHER_IS_BETTER, higher_is_better

BINS = 40
SLIDER_STEPS = 200
KEPT_COLOUR, REJECTED_COLOUR, BOUND_COLOUR = "#2563eb", "#f97316", "#111827"
GRID_COLOUR, TEXT_COLOUR = "#e5e7eb", "#374151"
OFF = "(off)"
RECOMMENDED_NOTE = (f"**Recommended**: the best {RECOMMENDED_RETENTION:g} % of the ok clips by `combined` (label-free), "
                    "flagged clips out — the recipe whose students docs/study.md compares with no filter.")
COMBINE_CHOICES = [("every filter (all)", "all"), ("at least one filter (any)", "any")]
GRID = dict(gridcolor=GRID_COLOUR, zerolinecolor=GRID_COLOUR)
PLOT_STYLE = dict(layout=dict(paper_bgcolor="white", plot_bgcolor="white", font=dict(color=TEXT_COLOUR),
                              xaxis=GRID, yaxis=GRID))  # plotly figures (the Map's); plotly_white costs ~15 ms each
PLOT_BOX = (56, 14, 724, 232)  # the histogram's bars: left, top, width, height in its SVG's units
LEGEND = "".join(f"<rect x='{x}' y='0' width='10' height='10' fill='{colour}'/><text x='{x + 14}' y='9'>{name}</text>"
                 for x, colour, name in ((PLOT_BOX[0] + PLOT_BOX[2] - 150, KEPT_COLOUR, "kept"),
                                         (PLOT_BOX[0] + PLOT_BOX[2] - 90, REJECTED_COLOUR, "rejected")))
HISTOGRAM_CSS = f"""
.histogram {{ display: block; width: 100%; height: auto; font-size: 12px; fill: {TEXT_COLOUR}; }}
.histogram .grid {{ stroke: {GRID_COLOUR}; }}
.histogram .bin {{ fill: transparent; }}
.histogram .bin:hover {{ fill: rgba(17, 24, 39, 0.08); }}
"""
SMALL_HEIGHT = 60  # a small plot's SVG units: BINS wide, SMALL_HEIGHT high
BOUND_STYLE = f"stroke='{BOUND_COLOUR}' stroke-width='2' stroke-dasharray='4 3' vector-effect='non-scaling-stroke'"
OVERVIEW_CSS = f"""
.overview {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 6px; }}
.cell {{ all: unset; box-sizing: border-box; cursor: pointer; padding: 4px 6px; border: 1px solid {GRID_COLOUR};
         border-radius: 6px; background: white; font-size: 12px; color: {TEXT_COLOUR}; }}
.cell:hover, .cell:focus-visible {{ border-color: {KEPT_COLOUR}; }}
.cell.current {{ border: 2px solid {BOUND_COLOUR}; }}
.cell svg {{ display: block; width: 100%; height: 48px; }}
.name {{ font-weight: 600; }}
.counts {{ display: block; }}
"""
OVERVIEW_JS = """
element.addEventListener('click', (e) => {
  const cell = e.target.closest('[data-column]');
  if (cell) trigger('click', {column: cell.dataset.column});
});
"""


@dataclass(frozen=True)
class Scale:
    """A column's slider range; a slider at either end means "no bound on that side"."""

    low: float
    high: float
    step: float

    def bound(self, value: float | None, side: str) -> float | None:
        if value is None or (value <= self.low + self.step / 2 if side == "min" else value >= self.high - self.step / 2):
            return None
        return float(f"{value:.6g}")


def column_values(table: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def scale(values: np.ndarray) -> Scale:
    """Slider range covering the finite values, on a round step (about SLIDER_STEPS steps)."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    step = round_step(high - low, SLIDER_STEPS)
    low, high = np.floor(low / step) * step, np.ceil(high / step) * step
    return Scale(round(float(low), 10), round(float(max(high, low + step)), 10), step)


def direction_note(table: pd.DataFrame, column: str) -> str:
    """Which way the column is better, and how many clips have no value for it."""
    if HIGHER_IS_BETTER.get(column, False) is None:
        note = "a plausible band: bound it on both sides"
    elif higher_is_better(column):
        note = "higher is better: raise the lower bound to drop doubtful clips"
    else:
        note = "lower is better: lower the upper bound to drop doubtful clips"
    if column not in HIGHER_IS_BETTER:
        note += " (not a registered score; direction guessed from its name)"
    missing = int(np.isnan(column_values(table, column)).sum())
    if missing:
        note += f". {missing} clips have no value: any filter on `{column}` rejects them"
    return f"`{column}`: {note}."


@dataclass(frozen=True)
class Binned:
    """Every score column of a table in BINS bins (np.histogram's edges over the column's finite values)."""

    columns: list[str]
    edges: np.ndarray  # (C, BINS + 1); NaN for a column without any value
    codes: np.ndarray  # (N, C) intp: c * (BINS + 1) + the row's bin in column c, or + BINS when it has no value
    totals: np.ndarray  # (C, BINS + 1): clips per bin, the last one counting the clips without a value

    def counts(self, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kept and rejected clips per bin under a kept mask (N,): two arrays shaped like `totals`."""
        kept_counts = np.bincount(self.codes[kept].ravel(), minlength=self.totals.size).reshape(self.totals.shape)
        return kept_counts, self.totals - kept_counts


def bin_table(table: pd.DataFrame) -> Binned:
    """Bin every score column of `table` (see `Binned`)."""
    columns = score_columns(table)
    edges = np.full((len(columns), BINS + 1), np.nan)
    codes = np.empty((len(table), len(columns)), dtype=np.intp)
    for c, column in enumerate(columns):
        values = column_values(table, column)
        finite = np.isfinite(values)
        bins = np.full(len(values), BINS)
        if finite.any():
            edges[c] = np.histogram_bin_edges(values[finite], bins=BINS)
            bins[finite] = np.clip(np.searchsorted(edges[c], values[finite], side="right") - 1, 0, BINS - 1)
        codes[:, c] = c * (BINS + 1) + bins
    totals = np.bincount(codes.ravel(), minlength=len(columns) * (BINS + 1)).reshape(len(columns), BINS + 1)
    return Binned(columns, edges, codes, totals)


_last_binned: tuple[pd.DataFrame, Binned] | None = None


def binned(table: pd.DataFrame) -> Binned:
    """`bin_table(table)`, computed once for the table object the app serves (it never changes)."""
    global _last_binned
    last = _last_binned
    if last is None or last[0] is not table:
        last = _last_binned = (table, bin_table(table))
    return last[1]


def round_step(span: float, count: int) -> float:
    """The smallest of 1, 2, 5 × 10^k that cuts `span` into at most `count` steps."""
    step = 10 ** np.floor(np.log10(max(span, 1e-6) / count))
    return float(next(s for s in (step, 2 * step, 5 * step, 10 * step) if span / s <= count))


def histogram_html(edges: np.ndarray, kept: np.ndarray, rejected: np.ndarray, bounds: Bounds, column: str) -> str:
    """One score's histogram as SVG from its rows of `Binned.counts`: kept clips blue under rejected orange,
    the bounds dashed, round ticks; hovering a bin names its range and counts. The root's `data-kept` is the
    number of kept clips drawn."""
    if np.isnan(edges).any():
        return f"<p>No clip has a value for <code>{escape(column)}</code>.</p>"
    tallest = max(int((kept[:BINS] + rejected[:BINS]).max()), 1)
    y_step = max(round_step(tallest, 4), 1.0)
    top = int(np.ceil(tallest / y_step) * y_step)
    left, y0, width, height = PLOT_BOX
    hover = "".join(f"<rect x='{i}' y='0' width='1' height='{height}' class='bin'><title>{edges[i]:.4g} – "
                    f"{edges[i + 1]:.4g}: {kept[i]} kept, {rejected[i]} rejected</title></rect>" for i in range(BINS))
    bars = (f"<svg x='{left}' y='{y0}' width='{width}' height='{height}' viewBox='0 0 {BINS} {height}' "
            f"preserveAspectRatio='none'>{_bars(edges, kept, rejected, bounds, top, height)}{hover}</svg>")
    return (f"<svg viewBox='0 0 {left + width + 10} {y0 + height + 46}' class='histogram' role='img' "
            f"data-kept='{int(kept[:BINS].sum())}' aria-label='{escape(column)}: kept and rejected clips'>"
            f"{_axes(edges, top, y_step, column)}{bars}{LEGEND}</svg>")


def _axes(edges: np.ndarray, top: int, y_step: float, column: str) -> str:
    """Count grid lines and labels, round x ticks and the axis titles around PLOT_BOX."""
    left, y0, width, height = PLOT_BOX
    x_step = round_step(edges[-1] - edges[0], 8)
    x_ticks = np.arange(np.ceil(edges[0] / x_step), np.floor(edges[-1] / x_step) + 1) * x_step
    rows = [(y0 + height * (1 - v / top), v) for v in np.arange(0, top + y_step / 2, y_step)]
    columns = [(left + (v - edges[0]) / (edges[-1] - edges[0]) * width, v) for v in x_ticks]
    bottom = y0 + height
    return ("".join(f"<line x1='{left}' x2='{left + width}' y1='{y:.1f}' y2='{y:.1f}' class='grid'/>"
                    f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end'>{v:g}</text>" for y, v in rows)
            + "".join(f"<text x='{x:.1f}' y='{bottom + 16}' text-anchor='middle'>{v:.4g}</text>" for x, v in columns)
            + f"<text x='{left + width / 2}' y='{bottom + 40}' text-anchor='middle'>{escape(column)}</text>"
            f"<text transform='translate(14 {y0 + height / 2}) rotate(-90)' text-anchor='middle'>clips</text>")


def overview_html(bins: Binned, kept: np.ndarray, rejected: np.ndarray, recipe: Recipe, current: str | None) -> str:
    """One small stacked histogram per score (kept blue under rejected orange, bounds dashed) with its kept,
    rejected and valueless (n/a) clips; each is a button carrying `data-column`, the current score outlined."""
    cells = [_small_plot(column, bins.edges[c], kept[c], rejected[c], recipe.filters.get(column, Bounds()),
                         column == current) for c, column in enumerate(bins.columns)]
    return f"<div class='overview'>{''.join(cells)}</div>"


def _small_plot(column: str, edges: np.ndarray, kept: np.ndarray, rejected: np.ndarray, bounds: Bounds,
                current: bool) -> str:
    top = max(int((kept[:BINS] + rejected[:BINS]).max()), 1)
    svg = (f"<svg viewBox='0 0 {BINS} {SMALL_HEIGHT}' preserveAspectRatio='none' aria-hidden='true'>"
           f"{_bars(edges, kept, rejected, bounds, top, SMALL_HEIGHT)}</svg>")
    missing = int(kept[BINS] + rejected[BINS])
    counts = (f"kept <b class='kept'>{int(kept[:BINS].sum())}</b> · rejected <b class='rejected'>"
              f"{int(rejected[:BINS].sum())}</b>" + (f" · <b class='missing'>{missing}</b> n/a" if missing else ""))
    name = escape(column)
    return (f"<button type='button' class='cell{' current' if current else ''}' data-column='{name}' "
            f"title='Filter on {name} (n/a: clips without a value)'><span class='name'>{name}</span>{svg}"
            f"<span class='counts'>{counts}</span></button>")


def _bars(edges: np.ndarray, kept: np.ndarray, rejected: np.ndarray, bounds: Bounds, top: int, height: int) -> str:
    """A histogram's bars and bounds in SVG units: bin i spans x = i..i+1, `top` clips reach y = 0 of `height`."""
    if np.isnan(edges).any():
        return ""
    paths = "".join(f"<path d='{_area(counts[:BINS], top, height)}' fill='{colour}'/>"
                    for counts, colour in ((kept + rejected, REJECTED_COLOUR), (kept, KEPT_COLOUR)))
    inside = [b for b in (bounds.min, bounds.max) if b is not None and edges[0] <= b <= edges[-1]]
    return paths + "".join(f"<line x1='{x:.3f}' x2='{x:.3f}' y1='0' y2='{height}' class='bound' data-value='{b:g}' "
                           f"{BOUND_STYLE}/>" for b in inside for x in [(b - edges[0]) / (edges[-1] - edges[0]) * BINS])


def _area(counts: np.ndarray, top: int, height: int) -> str:
    """SVG path of a histogram's area, bin by bin."""
    tops = height - counts * (height / top)
    return f"M0 {height}" + "".join(f"V{y:.1f}H{i + 1}" for i, y in enumerate(tops)) + f"V{height}Z"


def active_filters(table: pd.DataFrame, recipe: Recipe) -> str:
    """Markdown listing every test in the recipe with how many clips pass it alone."""
    passes = filter_passes(table, recipe)
    rules = {col: _rule(col, b) for col, b in recipe.filters.items()}
    if recipe.keep_best:
        rules[next(reversed(passes))] = f"best {recipe.keep_best.percent:g} % by `{recipe.keep_best.column}`"
    lines = [f"**Active filters** — a clip is kept when it passes **{recipe.combine}** of them:" if rules
             else "**No filters yet**: every ok clip is kept. Choose a score and move its sliders."]
    lines += [f"- {rule} — {int(passes[name].sum())} of {len(table)} clips pass" for name, rule in rules.items()]
    flagged = "kept" if recipe.include_flagged else "rejected"
    keeps = sum(v == "keep" for v in recipe.overrides.values())
    lines.append(f"\nFlagged clips: {flagged} · error clips: never kept · your overrides: {keeps} keep, "
                 f"{len(recipe.overrides) - keeps} reject (Review tab)")
    return "\n".join(lines)


def _rule(column: str, b: Bounds) -> str:
    if b.min is not None and b.max is not None:
        return f"{b.min:.4g} ≤ `{column}` ≤ {b.max:.4g}"
    return f"`{column}` ≥ {b.min:.4g}" if b.min is not None else f"`{column}` ≤ {b.max:.4g}"


def recipe_views(table: pd.DataFrame, recipe: Recipe, column: str) -> tuple[str, str, str, str]:
    """What shows the recipe's effect: totals, the current column's histogram, the active filters, the overview."""
    mask, bins = kept_mask(table, recipe), binned(table)
    kept, rejected = bins.counts(mask)
    c = bins.columns.index(column)
    histogram = histogram_html(bins.edges[c], kept[c], rejected[c], recipe.filters.get(column, Bounds()), column)
    return (totals_markdown(selection_summary(table, mask)), histogram, active_filters(table, recipe),
            overview_html(bins, kept, rejected, recipe, column))


def set_bounds(table: pd.DataFrame, recipe: Recipe, column: str, low: float | None, high: float | None) -> tuple:
    """The slider handler: the recipe with `column` bounded by the sliders (an end = no bound), and its views."""
    s = scale(column_values(table, column))
    low, high = s.bound(low, "min"), s.bound(high, "max")
    if low is not None and high is not None and low > high:
        totals, histogram, active, overview = recipe_views(table, recipe, column)
        warning = f"⚠ **Not applied:** the lower bound {low:g} is above the upper bound {high:g}; move one of them.\n\n"
        return recipe, totals, histogram, warning + active, overview
    recipe = recipe.with_bounds(column, low, high)
    return recipe, *recipe_views(table, recipe, column)


def set_options(table: pd.DataFrame, recipe: Recipe, column: str, combine: str, include_flagged: bool,
                best_column: str, best_percent: float) -> tuple:
    """Combine mode, flagged clips and keep-best %, and the views."""
    percent = min(max(float(best_percent or 1), 1.0), 100.0)  # the slider's number box accepts anything
    best = KeepBest(best_column, percent) if best_column and best_column != OFF else None
    recipe = replace(recipe, combine=combine, include_flagged=bool(include_flagged), keep_best=best)
    return recipe, *recipe_views(table, recipe, column)


def column_controls(table: pd.DataFrame, recipe: Recipe, column: str) -> tuple:
    """The two sliders for `column` at the recipe's bounds (ends where unbounded), its note, its histogram and
    the overview with `column` outlined."""
    s, b = scale(column_values(table, column)), recipe.filters.get(column, Bounds())
    sliders = [gr.Slider(minimum=s.low, maximum=s.high, step=s.step, label=f"Keep clips with {column} {sign}",
                         value=min(max(value, s.low), s.high) if value is not None else end)
               for sign, value, end in (("≥", b.min, s.low), ("≤", b.max, s.high))]
    _, histogram, _, overview = recipe_views(table, recipe, column)
    return *sliders, direction_note(table, column), histogram, overview


def open_column(table: pd.DataFrame, recipe: Recipe, column: str | None) -> tuple:
    """A click on the overview: `column` for the dropdown, then its `column_controls`."""
    if column not in score_columns(table):
        raise gr.Error(f"This workspace has no score {column!r}.")
    return column, *column_controls(table, recipe, column)


def all_controls(table: pd.DataFrame, recipe: Recipe, column: str) -> tuple:
    """Every control of the tab set from `recipe` (after a reload), then the views."""
    best = recipe.keep_best
    return (*column_controls(table, recipe, column)[:3], recipe.combine, recipe.include_flagged,
            best.column if best else OFF, best.percent if best else 80, *recipe_views(table, recipe, column))


@dataclass
class FilterTab:
    column: gr.Dropdown
    low: gr.Slider
    high: gr.Slider
    note: gr.Markdown
    plot: gr.HTML
    active: gr.Markdown
    combine: gr.Radio
    include_flagged: gr.Checkbox
    best_column: gr.Dropdown
    best_percent: gr.Slider
    clear: gr.Button
    clear_all: gr.Button
    recommended: gr.Button
    overview: gr.HTML

    @property
    def controls(self) -> list:
        """Outputs of `all_controls`, less the views."""
        return [self.low, self.high, self.note, self.combine, self.include_flagged, self.best_column, self.best_percent]

    @property
    def options(self) -> list:
        return [self.combine, self.include_flagged, self.best_column, self.best_percent]


def build(table: pd.DataFrame) -> FilterTab:
    """Lay out the Filter tab inside the current Blocks context (values are filled on page load)."""
    columns = score_columns(table)
    with gr.Row():
        with gr.Column(scale=3):
            column = gr.Dropdown(columns, value=default_column(table), label="Score to filter on",
                                 elem_id="filter-column")
            note = gr.Markdown(elem_id="filter-note")
            plot = gr.HTML("", css_template=HISTOGRAM_CSS, js_on_load=None, elem_id="filter-plot")
            with gr.Row():
                low = gr.Slider(label="Keep clips with ≥", info="at the left end: no lower bound", elem_id="filter-min")
                high = gr.Slider(label="Keep clips with ≤", info="at the right end: no upper bound", elem_id="filter-max")
            clear = gr.Button("Clear this score's filter", size="sm", elem_id="clear-filter")
        with gr.Column(scale=2):
            active = gr.Markdown(elem_id="active-filters")
            combine = gr.Radio(COMBINE_CHOICES, value="all", label="Keep a clip when it passes", elem_id="combine")
            include_flagged = gr.Checkbox(label="Include flagged clips (long, silent, clipped, no speech…)",
                                          elem_id="include-flagged")
            with gr.Group():
                best_column = gr.Dropdown([OFF, *columns], value=OFF, label="Also keep only the best … by",
                                          elem_id="best-column")
                best_percent = gr.Slider(1, 100, value=80, step=1, label="… percent of the clips",
                                         elem_id="best-percent")
            with gr.Row():
                recommended = gr.Button("Recommended", size="sm", variant="primary", elem_id="recommended-recipe")
                clear_all = gr.Button("Clear all filters (overrides stay)", size="sm", elem_id="clear-all")
            gr.Markdown(RECOMMENDED_NOTE, elem_id="recommended-note")
    gr.Markdown("**Every score** under the recipe: kept (blue) and rejected (orange). Click one to filter on it.")
    overview = gr.HTML("", css_template=OVERVIEW_CSS, js_on_load=OVERVIEW_JS, elem_id="filter-overview")
    return FilterTab(column, low, high, note, plot, active, combine, include_flagged, best_column, best_percent,
                     clear, clear_all, recommended, overview)


def wire(tab: FilterTab, session: Session) -> None:
    """Connect the tab's controls: every change recomputes the recipe's views from the whole table."""
    table, recipe = session.table, session.recipe
    fast = dict(show_progress="hidden", trigger_mode="always_last", queue=False)
    shown = [tab.column, tab.low, tab.high, tab.note, tab.plot, tab.overview]
    tab.column.input(lambda r, c: column_controls(table, r, c), [recipe, tab.column], shown[1:])

    def pick(r: Recipe, event: gr.EventData) -> tuple:
        return open_column(table, r, getattr(event, "column", None))

    tab.overview.click(pick, recipe, shown, api_visibility="private", **fast)
    for end, slider in (("lower", tab.low), ("upper", tab.high)):
        slider.input(lambda r, c, low, high: set_bounds(table, r, c, low, high), [recipe, tab.column, tab.low, tab.high],
                     [recipe, *session.views], api_name=f"set_{end}_bound", **fast)
    for option in tab.options:
        option.input(lambda r, c, *values: set_options(table, r, c, *values), [recipe, tab.column, *tab.options],
                     [recipe, *session.views], **fast)

    def clear(r: Recipe, column: str) -> tuple:
        r = r.with_bounds(column)
        return r, *column_controls(table, r, column)[:3], *recipe_views(table, r, column)

    def clear_all(r: Recipe, column: str) -> tuple:
        r = Recipe(overrides=r.overrides)
        return r, *all_controls(table, r, column)

    def recommend(r: Recipe, column: str) -> tuple:
        r = replace(recommended_recipe(), overrides=r.overrides)
        return r, *all_controls(table, r, column)

    tab.clear.click(clear, [recipe, tab.column], [recipe, tab.low, tab.high, tab.note, *session.views])
    tab.clear_all.click(clear_all, [recipe, tab.column], [recipe, *tab.controls, *session.views])
    tab.recommended.click(recommend, [recipe, tab.column], [recipe, *tab.controls, *session.views])
