"""Filter tab: pick a score, see its histogram (kept vs rejected) and move its bounds; keep-best %,
flagged clips and the combine mode; a list of every active filter. Handlers are whole-array numpy."""
from __future__ import annotations

from dataclasses import dataclass, replace

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from curator.recipe_bar import totals_markdown
from curator.session import Session
from curator.summary import default_column, score_columns
from engine.recipe import Bounds, KeepBest, Recipe, filter_passes, higher_is_better, kept_mask, selection_summary
from engine.scores import HIGHER_IS_BETTER

BINS = 40
SLIDER_STEPS = 200
KEPT_COLOUR, REJECTED_COLOUR, BOUND_COLOUR = "#2563eb", "#f97316", "#111827"
OFF = "(off)"
COMBINE_CHOICES = [("every filter (all)", "all"), ("at least one filter (any)", "any")]
GRID = dict(gridcolor="#e5e7eb", zerolinecolor="#e5e7eb")
PLOT_STYLE = dict(layout=dict(paper_bgcolor="white", plot_bgcolor="white", font=dict(color="#374151"),
                              xaxis=GRID, yaxis=GRID))  # a small template: plotly_white costs ~15 ms per figure


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
    step = 10 ** np.floor(np.log10(max(high - low, 1e-6) / SLIDER_STEPS))
    step = float(next(s for s in (step, 2 * step, 5 * step, 10 * step) if (high - low) / s <= SLIDER_STEPS))
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


def histogram(values: np.ndarray, kept: np.ndarray, bounds: Bounds, column: str) -> go.Figure:
    """Stacked histogram of kept and rejected clips over one score, the bounds drawn as dashed lines."""
    finite = np.isfinite(values)
    layout = dict(barmode="stack", bargap=0.05, height=300, template=PLOT_STYLE,
                  margin=dict(l=50, r=20, t=30, b=45), legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom", traceorder="normal"),
                  xaxis=dict(title=column), yaxis=dict(title="clips"))
    if not finite.any():
        return go.Figure(layout={**layout, "title": f"no clip has a value for {column}"})
    edges = np.histogram_bin_edges(values[finite], bins=BINS)
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    bars = [go.Bar(x=centers, y=np.histogram(values[finite & part], edges)[0], width=width, name=name,
                   marker_color=colour, hovertemplate="%{y} clips<extra>" + name + "</extra>")
            for name, part, colour in (("kept", kept, KEPT_COLOUR), ("rejected", ~kept, REJECTED_COLOUR))]
    lines = [dict(type="line", x0=b, x1=b, y0=0, y1=1, yref="paper", line=dict(color=BOUND_COLOUR, dash="dash", width=2))
             for b in (bounds.min, bounds.max) if b is not None]
    return go.Figure(bars, layout={**layout, "shapes": lines})


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


def recipe_views(table: pd.DataFrame, recipe: Recipe, column: str) -> tuple[str, go.Figure, str]:
    """What shows the recipe's effect: totals, the current column's histogram, the active filters."""
    mask = kept_mask(table, recipe)
    figure = histogram(column_values(table, column), mask, recipe.filters.get(column, Bounds()), column)
    return totals_markdown(selection_summary(table, mask)), figure, active_filters(table, recipe)


def set_bounds(table: pd.DataFrame, recipe: Recipe, column: str, low: float | None, high: float | None) -> tuple:
    """The slider handler: the recipe with `column` bounded by the sliders (an end = no bound), and its views."""
    s = scale(column_values(table, column))
    low, high = s.bound(low, "min"), s.bound(high, "max")
    if low is not None and high is not None and low > high:
        totals, figure, active = recipe_views(table, recipe, column)
        warning = f"⚠ **Not applied:** the lower bound {low:g} is above the upper bound {high:g}; move one of them.\n\n"
        return recipe, totals, figure, warning + active
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
    """The two sliders for `column` at the recipe's bounds (ends where unbounded), its note and histogram."""
    s, b = scale(column_values(table, column)), recipe.filters.get(column, Bounds())
    sliders = [gr.Slider(minimum=s.low, maximum=s.high, step=s.step, label=f"Keep clips with {column} {sign}",
                         value=min(max(value, s.low), s.high) if value is not None else end)
               for sign, value, end in (("≥", b.min, s.low), ("≤", b.max, s.high))]
    return *sliders, direction_note(table, column), recipe_views(table, recipe, column)[1]


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
    plot: gr.Plot
    active: gr.Markdown
    combine: gr.Radio
    include_flagged: gr.Checkbox
    best_column: gr.Dropdown
    best_percent: gr.Slider
    clear: gr.Button
    clear_all: gr.Button

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
            plot = gr.Plot(label="Clips by this score: kept (blue) and rejected (orange)", elem_id="filter-plot")
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
            clear_all = gr.Button("Clear all filters (overrides stay)", size="sm", elem_id="clear-all")
    return FilterTab(column, low, high, note, plot, active, combine, include_flagged, best_column, best_percent,
                     clear, clear_all)


def wire(tab: FilterTab, session: Session) -> None:
    """Connect the tab's controls: every change recomputes the recipe's views from the whole table."""
    table, recipe = session.table, session.recipe
    fast = dict(show_progress="hidden", trigger_mode="always_last", queue=False)
    tab.column.input(lambda r, c: column_controls(table, r, c), [recipe, tab.column], [tab.low, tab.high, tab.note, tab.plot])
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

    tab.clear.click(clear, [recipe, tab.column], [recipe, tab.low, tab.high, tab.note, *session.views])
    tab.clear_all.click(clear_all, [recipe, tab.column], [recipe, *tab.controls, *session.views])
