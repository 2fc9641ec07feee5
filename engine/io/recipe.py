"""The recipe: which clips to keep, as plain values that round-trip to WS/recipe.yaml.

A recipe holds per-score bounds, how they combine ("all" must pass, or "any"), an optional
"keep the best X % by one column", whether flagged clips may be kept, and manual overrides
(clip id → "keep" | "reject"). `kept_mask` applies it to a scores table in a few numpy passes:

    status error          never kept
    status flagged        kept only with include_flagged
    filters (+ keep-best) a NaN in a filtered column fails that filter; combined by `combine`
    overrides             win last (but an error clip stays out: it has no usable label)
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from engine.io.atomic import write_text_atomic
from engine.io.workspace import RECIPE, Workspace
from engine.scores import RECOMMENDED, higher_is_better
from engine.scores.calibration import kept_wer_estimate

COMBINE_MODES = ("all", "any")
RECOMMENDED_RETENTION = 70.0  # percent of the ok clips the recommended recipe keeps: the retention docs/study.md compares at
OVERRIDE_ACTIONS = ("keep", "reject")
CHANGED_NOTICE = "recipe.yaml was changed by another session since you loaded it; your version replaced it"
YAML_HEADER = "# Whisper Curator recipe: which clips to keep (see `whisper-curator export --help`).\n"


@dataclass(frozen=True)
class Bounds:
    """Keep clips whose value lies in [min, max]; None = no bound on that side."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self):
        for side in ("min", "max"):
            value = getattr(self, side)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or math.isnan(value):
                    raise ValueError(f"a {side} bound must be a number, not {value!r}")
                object.__setattr__(self, side, float(value))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}


@dataclass(frozen=True)
class KeepBest:
    """Keep the best `percent` % of the clips that have a `column` value (direction: `higher_is_better`)."""

    column: str
    percent: float

    def __post_init__(self):
        if not isinstance(self.percent, (int, float, np.number)) or not 0 < self.percent <= 100:
            raise ValueError(f"keep-best percent must be in (0, 100], not {self.percent!r}")
        object.__setattr__(self, "percent", float(self.percent))


@dataclass(frozen=True)
class Recipe:
    """What to keep. Immutable: the `with_*` methods return a changed copy."""

    # thresholds: score column → bounds, and how the per-column tests combine
    filters: Mapping[str, Bounds] = field(default_factory=dict)
    combine: str = "all"
    # one more test: the best X % by one column
    keep_best: KeepBest | None = None
    # statuses: error clips are never kept
    include_flagged: bool = False
    # listening decisions: clip id → "keep" | "reject"; they win over everything above
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}, not {self.combine!r}")
        if not isinstance(self.include_flagged, bool):
            raise ValueError(f"include_flagged must be true or false, not {self.include_flagged!r}")
        bad = {k: v for k, v in self.overrides.items() if v not in OVERRIDE_ACTIONS}
        if bad:
            clip, action = next(iter(bad.items()))
            raise ValueError(f"override for {clip} must be keep or reject, not {action!r}")
        object.__setattr__(self, "filters", {str(k): v for k, v in self.filters.items() if v != Bounds()})
        object.__setattr__(self, "overrides", {str(k): v for k, v in self.overrides.items()})

    def with_bounds(self, column: str, min: float | None = None, max: float | None = None) -> Recipe:
        """This recipe with `column` bounded to [min, max] (both None removes the filter)."""
        return replace(self, filters={**self.filters, column: Bounds(min, max)})

    def with_overrides(self, changes: Mapping[str, str | None]) -> Recipe:
        """This recipe with overrides set ("keep"/"reject") or cleared (None)."""
        overrides = dict(self.overrides)
        for clip, action in changes.items():
            if action is None:
                overrides.pop(clip, None)
            else:
                overrides[clip] = action
        return replace(self, overrides=overrides)

    def to_dict(self) -> dict:
        return {
            "combine": self.combine,
            "include_flagged": self.include_flagged,
            "filters": {col: b.to_dict() for col, b in self.filters.items()},
            "keep_best": {"column": self.keep_best.column, "percent": self.keep_best.percent} if self.keep_best else None,
            "overrides": dict(self.overrides),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Recipe:
        if not isinstance(data, Mapping):
            raise ValueError("a recipe must be a mapping of combine, include_flagged, filters, keep_best, overrides")
        unknown = set(data) - {"combine", "include_flagged", "filters", "keep_best", "overrides"}
        if unknown:
            raise ValueError(f"unknown recipe key(s): {', '.join(sorted(map(str, unknown)))}")
        filters = data.get("filters") or {}
        if not isinstance(filters, Mapping) or not all(isinstance(b, Mapping) for b in filters.values()):
            raise ValueError("recipe filters must map each score column to {min: ..., max: ...}")
        for col, bounds in filters.items():
            if set(bounds) - {"min", "max"}:
                raise ValueError(f"filter {col} may only have min and max")
        best = data.get("keep_best")
        if best is not None and (not isinstance(best, Mapping) or set(best) != {"column", "percent"}):
            raise ValueError("keep_best must be {column: ..., percent: ...}")
        return cls(
            filters={col: Bounds(b.get("min"), b.get("max")) for col, b in filters.items()},
            combine=data.get("combine", "all"),
            keep_best=KeepBest(str(best["column"]), best["percent"]) if best else None,
            include_flagged=data.get("include_flagged", False),
            overrides=data.get("overrides") or {},
        )

    def to_yaml(self) -> str:
        return YAML_HEADER + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str) -> Recipe:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"the recipe is not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(data or {})


def recommended_recipe() -> Recipe:
    """The one-click recipe (the Filter tab's "Recommended"): the best RECOMMENDED_RETENTION % of the ok
    clips by the label-free `combined` score, flagged clips out. docs/study.md measures its students."""
    return Recipe(keep_best=KeepBest(RECOMMENDED, RECOMMENDED_RETENTION))


def opening_recipe(table: pd.DataFrame) -> Recipe:
    """What a workspace without a saved recipe opens on in the app: the recommended recipe when the table
    has `combined` values, else the default (every ok clip)."""
    has = RECOMMENDED in table and pd.to_numeric(table[RECOMMENDED], errors="coerce").notna().any()
    return recommended_recipe() if has else Recipe()


# ---- applying a recipe ----

def filter_passes(table: pd.DataFrame, recipe: Recipe) -> dict[str, np.ndarray]:
    """Each filter's verdict per row, (N,) bool, named by column (keep-best as "best X % column")."""
    missing = [c for c in [*recipe.filters, *([recipe.keep_best.column] if recipe.keep_best else [])] if c not in table]
    if missing:
        raise ValueError(f"the recipe filters on {', '.join(missing)}, which this workspace has no scores for")
    passes = {}
    for col, b in recipe.filters.items():
        values = _values(table, col)
        lo = values >= b.min if b.min is not None else ~np.isnan(values)
        passes[col] = lo & (values <= b.max) if b.max is not None else lo
    if recipe.keep_best:
        best = recipe.keep_best
        passes[f"best {best.percent:g} % {best.column}"] = _best(_values(table, best.column), best.percent,
                                                                 higher_is_better(best.column), _eligible(table, recipe))
    return passes


def kept_mask(table: pd.DataFrame, recipe: Recipe) -> np.ndarray:
    """Which rows of a scores table the recipe keeps: (N,) bool (see the module docstring)."""
    passes = list(filter_passes(table, recipe).values())
    if not passes:
        passed = np.ones(len(table), dtype=bool)
    else:
        passed = (np.logical_and if recipe.combine == "all" else np.logical_or).reduce(passes)
    kept = _eligible(table, recipe) & passed
    if recipe.overrides:
        ids = table["id"]
        kept |= ids.isin([k for k, v in recipe.overrides.items() if v == "keep"]).to_numpy()
        kept &= ~ids.isin([k for k, v in recipe.overrides.items() if v == "reject"]).to_numpy()
    return kept & (table["status"] != "error").to_numpy()


def explain(table: pd.DataFrame, recipe: Recipe, rows: Sequence[int]) -> list[str]:
    """A few words per row (positions in `table`, e.g. one page of a list) on why it is kept or rejected."""
    passes, kept = filter_passes(table, recipe), kept_mask(table, recipe)
    status, reason, ids = (table[c].iloc[rows].to_numpy() for c in ("status", "reason", "id"))
    words = []
    for i, row in enumerate(rows):
        override = recipe.overrides.get(ids[i])
        if status[i] == "error":
            words.append(f"error: {reason[i]}")
        elif override:
            words.append(f"{override} (your override)")
        elif status[i] == "flagged" and not recipe.include_flagged:
            words.append(f"flagged: {reason[i]}")
        elif kept[row]:
            words.append("kept")
        else:
            words.append("fails " + ", ".join(name for name, p in passes.items() if not p[row]))
    return words


def selection_summary(table: pd.DataFrame, mask: np.ndarray) -> dict[str, float | int | None]:
    """Kept/rejected clips and hours; with a `wer` column also the duration-weighted mean WER of the kept
    clips and of all clips (each over the clips that have a reference), else those are None; with
    `combined`, the label-free estimate of the kept clips' WER (1 − combined, duration-weighted), else None."""
    hours = table["duration"].to_numpy(dtype=float, na_value=np.nan) / 3600
    hours = np.nan_to_num(hours)
    summary = {
        "kept_clips": int(mask.sum()), "rejected_clips": int((~mask).sum()),
        "kept_hours": float(hours[mask].sum()), "rejected_hours": float(hours[~mask].sum()),
        "kept_wer": None, "all_wer": None, "kept_with_reference": 0, "estimated_wer": None,
    }
    if RECOMMENDED in table:
        estimate = kept_wer_estimate(1 - _values(table, RECOMMENDED)[mask], hours[mask])
        summary["estimated_wer"] = None if math.isnan(estimate) else estimate
    if "wer" in table:
        wer = _values(table, "wer")
        scored = ~np.isnan(wer) & (hours > 0)
        summary["kept_with_reference"] = int((scored & mask).sum())
        summary["kept_wer"] = _weighted_mean(wer, hours, scored & mask)
        summary["all_wer"] = _weighted_mean(wer, hours, scored)
    return summary


def _values(table: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _eligible(table: pd.DataFrame, recipe: Recipe) -> np.ndarray:
    status = table["status"]
    eligible = status == "ok"
    return (eligible | (status == "flagged")).to_numpy() if recipe.include_flagged else eligible.to_numpy()


def _best(values: np.ndarray, percent: float, higher: bool, eligible: np.ndarray) -> np.ndarray:
    """True for the best `percent` % of the eligible rows that have a value (ties at the cut all pass)."""
    pool = values[eligible & ~np.isnan(values)]
    k = math.ceil(len(pool) * percent / 100)
    if k == 0:
        return np.zeros(len(values), dtype=bool)
    signed = pool if higher else -pool
    cut = np.partition(signed, len(pool) - k)[len(pool) - k]
    return (values >= cut) if higher else (values <= -cut)


def _weighted_mean(values: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> float | None:
    total = weights[rows].sum()
    return float((values[rows] * weights[rows]).sum() / total) if total > 0 else None


# ---- the recipe file ----

@dataclass(frozen=True)
class Saved:
    """The result of a save: the file's new fingerprint and a notice for the user ("" when none)."""

    fingerprint: str
    notice: str = ""


def fingerprint(path: str | Path) -> str:
    """SHA-1 of the file's bytes; "" when it does not exist. Compares what a session loaded with what is there."""
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def read_recipe(ws: Workspace, path: str | Path | None = None) -> tuple[Recipe, str]:
    """The recipe at `path` (default WS/recipe.yaml) and its fingerprint; the default recipe (keep every ok
    clip) and "" when there is no file."""
    path = Path(path) if path else ws.path(RECIPE)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path != ws.path(RECIPE):
            raise FileNotFoundError(f"recipe not found: {path}") from None
        return Recipe(), ""
    try:
        return Recipe.from_yaml(data.decode("utf-8")), hashlib.sha1(data).hexdigest()
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a usable recipe: {e}") from None


def load_recipe(ws: Workspace) -> Recipe:
    """WS/recipe.yaml, or the default recipe when there is none."""
    return read_recipe(ws)[0]


def save_recipe(ws: Workspace, recipe: Recipe, since: str | None = None) -> Saved:
    """Write WS/recipe.yaml atomically. `since`: the fingerprint this session loaded; when the file changed
    since then it is still replaced (last writer wins) and the notice says so."""
    changed = since is not None and fingerprint(ws.path(RECIPE)) != since
    text = recipe.to_yaml()
    write_text_atomic(ws.path(RECIPE), text)
    return Saved(hashlib.sha1(text.encode("utf-8")).hexdigest(), CHANGED_NOTICE if changed else "")


def save_overrides(ws: Workspace, changes: Mapping[str, str | None], since: str) -> str:
    """Merge override changes into recipe.yaml as it is on disk (its thresholds untouched); return the
    fingerprint the session should now hold: the new one, or `since` when another session had changed the
    file, so that the session's next full save still reports it."""
    on_disk, current = read_recipe(ws)
    saved = save_recipe(ws, on_disk.with_overrides(changes))
    return saved.fingerprint if current == since else since
