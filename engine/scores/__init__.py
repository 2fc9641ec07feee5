"""Scores: one module per score, each a pure function from arrays to one number per clip.

Every module declares `COLUMNS`: the columns it writes and, for each, whether higher is better
(True), lower is better (False), or neither (None: a plausible band, the recipe decides); `ORDER`, its
place in the app's lists; optionally `FAMILIES`, the family of `combined` each column belongs to; and, for
scores computed in the scoring pass, `NEEDS` (`inputs.TEACHER` or `inputs.AUDIO`) with `compute(inputs)`.
The registry below finds every module in this folder: the pipeline, the combiner, the UI and the validator
read it, so adding a score is adding one file.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from engine.scores import reference_wer


def _score_modules() -> tuple[ModuleType, ...]:
    """Every module of this package that declares COLUMNS, in ORDER (then by name)."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    scores = [m for m in modules if hasattr(m, "COLUMNS")]
    return tuple(sorted(scores, key=lambda m: (getattr(m, "ORDER", float("inf")), m.__name__)))


MODULES = _score_modules()
HIGHER_IS_BETTER: dict[str, bool | None] = {col: d for m in MODULES for col, d in m.COLUMNS.items()}


def _families() -> dict[str, tuple[str, ...]]:
    """combined's families: family → its columns, in registry order."""
    families: dict[str, tuple[str, ...]] = {}
    for module in MODULES:
        for column, family in getattr(module, "FAMILIES", {}).items():
            families[family] = families.get(family, ()) + (column,)
    return families


FAMILIES = _families()
REFERENCE_COLUMNS = tuple(reference_wer.COLUMNS)  # need human references; never label-free inputs
RECOMMENDED = "combined"  # the score to filter on first: the best label-free ranking in docs/study.md
LOWER_IS_BETTER = frozenset(c for c, higher in HIGHER_IS_BETTER.items() if higher is False)


def computed_from(needs: str) -> tuple[ModuleType, ...]:
    """The modules the scoring pass computes from `needs` (inputs.TEACHER or inputs.AUDIO), in registry order."""
    return tuple(m for m in MODULES if getattr(m, "NEEDS", None) == needs)


def higher_is_better(column: str) -> bool:
    """Direction used to rank `column`: the registry's, else lower only for names like a lower-is-better one
    (`proxy_wer` ends in `wer`); band columns (registry None) and unknown columns rank higher first."""
    return not (column in LOWER_IS_BETTER or any(column.endswith(f"_{c}") for c in LOWER_IS_BETTER))
